// Summarises a V8 CPU profile (.cpuprofile, e.g. from `node bench/sync.mjs --server-prof`): where the time
// went, by function (self and inclusive) and by file, with paths shortened to the repository.
//
//   node bench/profile.mjs <file.cpuprofile> [--top=N]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/profile.mjs <file.cpuprofile> [--top=N]');
  process.exit(2);
}
const top = Number(process.argv.find((arg) => arg.startsWith('--top='))?.slice(6) ?? '25');
const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

function where(frame) {
  let url = frame.url || '';
  if (url.startsWith('file://')) url = fileURLToPath(url);
  if (url.startsWith(repository)) url = path.relative(repository, url);
  url = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, 'node_modules/');
  return url;
}

function label(frame) {
  const name = frame.functionName || '(anonymous)';
  const url = where(frame);
  return url ? `${name}  ${url}:${frame.lineNumber + 1}` : name;
}

const self = new Map();
const inclusive = new Map();
const byFile = new Map();
let total = 0;
let idle = 0;
const add = (map, key, amount) => map.set(key, (map.get(key) ?? 0) + amount);

for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0;
  const leaf = nodes.get(profile.samples[i]);
  total += delta;
  if (leaf.callFrame.functionName === '(idle)') {
    idle += delta;
    continue;
  }
  add(self, label(leaf.callFrame), delta);
  add(byFile, where(leaf.callFrame) || `(${leaf.callFrame.functionName || 'native'})`, delta);
  // Each function on the stack counts once per sample, however deeply it recursed.
  const seen = new Set();
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const key = label(nodes.get(id).callFrame);
    if (seen.has(key)) continue;
    seen.add(key);
    add(inclusive, key, delta);
  }
}

const busy = total - idle;
const ms = (us) => (us / 1000).toFixed(0).padStart(7);
const share = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;

function print(title, map, skip = () => false) {
  console.log(`\n${title}`);
  const rows = [...map.entries()].filter(([key]) => !skip(key)).sort((a, b) => b[1] - a[1]);
  for (const [key, us] of rows.slice(0, top)) console.log(`${ms(us)} ms ${share(us)}  ${key}`);
}

console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy ` +
    `(${(idle / 1000).toFixed(0)} ms idle); shares are of the busy time`,
);
print('Self time by function', self);
print('Self time by file', byFile);
print('Inclusive time by function', inclusive, (key) => key.startsWith('(root)'));
