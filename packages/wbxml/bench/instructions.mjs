// Instructions per decode of the 2,000-email Sync response, counted by valgrind's callgrind: a figure that
// does not move with the load of a shared machine, unlike the timings of bench/run.mjs.
//
//   node bench/instructions.mjs [--dist DIR] [--runs N]
//
// DIR is a built package's dist folder (default ../dist), so two builds can be compared; N decodes are
// counted (default 40). Node runs with --predictable (one thread, no concurrent compilation or GC helpers),
// which makes the count repeat to within a fraction of a percent. The process is counted twice, with 5 and
// with 5 + N decodes, and the difference divided by N, so start-up, compilation and warm-up drop out.
// GC work that helper threads would do runs on the main thread here and is counted; time lost to waiting on
// memory is not, so this complements timings rather than replacing them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const WARM_RUNS = 5;

if (process.argv[2] === '--child') {
  // node instructions.mjs --child DIST FILE RUNS: decode FILE RUNS times.
  const [, , , dist, file, runs] = process.argv;
  const { decode } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const bytes = new Uint8Array(readFileSync(file));
  let sink = 0;
  for (let i = 0; i < Number(runs); i++) if (decode(bytes) === undefined) sink++;
  process.exit(sink);
}

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: path.join(here, '..', 'dist') },
    runs: { type: 'string', default: '40' },
  },
});
const dist = path.resolve(values.dist);
const runs = Number(values.runs);
if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).error) {
  console.log('valgrind not found: install it (apt-get install valgrind) to count instructions.');
  process.exit(0);
}

const { encode } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const { syncResponse } = await import('./inputs.mjs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'easkit-wbxml-instructions-'));
try {
  const file = path.join(dir, 'sync.wbxml');
  const wbxml = encode(syncResponse(2000));
  writeFileSync(file, wbxml);
  const count = (decodes) => {
    const out = path.join(dir, `callgrind.${decodes}`);
    const result = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${out}`,
        process.execPath,
        '--predictable',
        fileURLToPath(import.meta.url),
        '--child',
        dist,
        file,
        String(decodes),
      ],
      { encoding: 'utf8' },
    );
    const match = /refs:\s+([\d,]+)/.exec(result.stderr);
    if (result.status !== 0 || !match) throw new Error(`callgrind failed: ${result.stderr.slice(-2000)}`);
    return Number(match[1].replaceAll(',', ''));
  };
  const base = count(WARM_RUNS);
  const total = count(WARM_RUNS + runs);
  const perDecode = (total - base) / runs;
  console.log(
    `${dist}: ${(perDecode / 1e6).toFixed(1)} million instructions per decode of the Sync response, 2,000 emails ` +
      `(${(wbxml.length / 1e6).toFixed(2)} MB; ${(perDecode / wbxml.length).toFixed(1)} per byte; ` +
      `callgrind, node --predictable, ${runs} decodes after ${WARM_RUNS})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
