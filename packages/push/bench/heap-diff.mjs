// Compares two V8 heap snapshots of the benchmark server (bench/ping.mjs --heap-snapshot): what the waiting
// requests added, grouped by node type and constructor name, per wait.
//   node bench/heap-diff.mjs bench/.out/idle.heapsnapshot bench/.out/waiting-2000.heapsnapshot 2000
import { readFileSync } from 'node:fs';

function summarise(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? ''
        : strings[nodes[i + nameAt]];
    const key = `${type} ${name.slice(0, 60)}`;
    const group = groups.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += nodes[i + sizeAt];
    groups.set(key, group);
  }
  return groups;
}

const [idleFile, loadedFile, waitsText] = process.argv.slice(2);
const waits = Number(waitsText);
const idle = summarise(idleFile);
const loaded = summarise(loadedFile);
const rows = [];
let total = 0;
for (const [key, group] of loaded) {
  const before = idle.get(key) ?? { count: 0, bytes: 0 };
  const bytes = group.bytes - before.bytes;
  total += bytes;
  rows.push({ key, count: (group.count - before.count) / waits, bytes: bytes / waits });
}
rows.sort((a, b) => b.bytes - a.bytes);
console.log(`heap added per wait: ${(total / waits).toFixed(0)} bytes`);
console.log('| objects / wait | bytes / wait | type and constructor |');
console.log('|---:|---:|---|');
for (const row of rows.slice(0, 40)) {
  console.log(`| ${row.count.toFixed(2)} | ${row.bytes.toFixed(0)} | ${row.key} |`);
}
