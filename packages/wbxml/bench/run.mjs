// The @easkit/wbxml benchmarks: `node bench/run.mjs` in packages/wbxml after `tsc -p tsconfig.build.json`
// (or `pnpm bench`, which builds first). Measures the built package in dist/, as users get it.
//
//   --skip-cli   leave out the command-line comparison with libwbxml (the slow part)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, fromXml, toXml } from '../dist/index.js';
import { toXmlBytes } from '../dist/xml.js';
import { countNodes, folderSyncResponse, syncRequest, syncResponse } from './inputs.mjs';
import { allocatedBytes, timeCall, timeProcess } from './measure.mjs';

const MB = 1e6;
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'dist', 'cli.js');
const skipCli = process.argv.includes('--skip-cli');

function table(headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
  console.log();
}

function size(bytes) {
  if (bytes >= MB) return `${(bytes / MB).toFixed(2)} MB`;
  return `${(bytes / 1e3).toFixed(1)} kB`;
}

function rate(bytes, ms) {
  return ((bytes / MB) * (1000 / ms)).toFixed(0);
}

console.log(
  `@easkit/wbxml benchmarks - ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
    `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.arch()}, ` +
    `load average ${os.loadavg()[0].toFixed(1)} at start`,
);
console.log('MB = 10^6 bytes; every figure is the median of several timed samples after a warm-up.\n');

// Each document is built when its turn comes and dropped after, and every step keeps alive only what it
// needs: a large live tree left over from one measurement makes the collector slow down the next one.
const documents = [
  ['Sync response, 2,000 emails', () => syncResponse(2000)],
  ['FolderSync response, 200 folders', () => folderSyncResponse(200)],
  ['Sync request, 100 client Adds', () => syncRequest(100)],
];

const speedRows = [];
const allocationRows = [];
for (const [label, build] of documents) {
  const wbxml = encode(build());
  const runs = wbxml.length > MB ? 5 : 50;
  const nodes = countNodes(decode(wbxml));
  const perNode = (fn) => (allocatedBytes(fn, runs) / nodes).toFixed(0);
  const decodeMs = timeCall(() => decode(wbxml));
  const decodeAllocation = perNode(() => decode(wbxml));

  let tree = decode(wbxml);
  const xml = toXml(tree);
  const xmlBytes = Buffer.byteLength(xml);
  // Every operation is checked once before it is timed.
  if (encode(tree).length !== wbxml.length || toXml(fromXml(xml)) !== xml) {
    throw new Error(`${label}: round trip failed`);
  }
  const encodeMs = timeCall(() => encode(tree));
  const encodeAllocation = perNode(() => encode(tree));
  const toXmlMs = timeCall(() => toXml(tree));
  const toXmlAllocation = perNode(() => toXml(tree));
  const bytesMs = timeCall(() => toXmlBytes(tree));
  const bytesAllocation = perNode(() => toXmlBytes(tree));
  tree = undefined;

  const fromXmlMs = timeCall(() => fromXml(xml));
  const fromXmlAllocation = perNode(() => fromXml(xml));
  speedRows.push([
    label,
    size(wbxml.length),
    nodes.toLocaleString('en-US'),
    rate(wbxml.length, decodeMs),
    rate(wbxml.length, encodeMs),
    size(xmlBytes),
    rate(xmlBytes, toXmlMs),
    rate(xmlBytes, bytesMs),
    rate(xmlBytes, fromXmlMs),
  ]);
  allocationRows.push([
    label,
    decodeAllocation,
    encodeAllocation,
    toXmlAllocation,
    bytesAllocation,
    fromXmlAllocation,
  ]);
}

console.log(
  'In process, MB/s: decode and encode of WBXML; toXml, toXmlBytes (the UTF-8 output the CLI writes)\n' +
    'and fromXml of XML text\n',
);
table(
  ['document', 'WBXML', 'elements', 'decode', 'encode', 'XML', 'toXml', 'toXmlBytes', 'fromXml'],
  speedRows,
);
console.log('JS heap allocated per element, in bytes (see bench/measure.mjs for the method)\n');
table(['document', 'decode', 'encode', 'toXml', 'toXmlBytes', 'fromXml'], allocationRows);

function hasCommand(command) {
  const result = spawnSync(command, [], { stdio: 'ignore' });
  return result.error === undefined;
}

if (skipCli) {
  console.log('Command line comparison skipped (--skip-cli).');
} else if (!hasCommand('wbxml2xml') || !hasCommand('xml2wbxml')) {
  console.log(
    'libwbxml tools (wbxml2xml, xml2wbxml) not found: command line comparison skipped. ' +
      'Install them with `apt-get install libwbxml2-utils`.',
  );
} else if (!existsSync(cli)) {
  console.log(`${cli} not found: build the package first (tsc -p tsconfig.build.json).`);
} else {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'easkit-wbxml-bench-'));
  try {
    // About 30 MB of WBXML, so process start-up does not dominate.
    const wbxmlFile = path.join(dir, 'sync.wbxml');
    writeFileSync(wbxmlFile, encode(syncResponse(19_000, { seed: 4 })));
    // The XML both encoders read is what libwbxml writes for that document; our CLI accepts it as is.
    const xmlFile = path.join(dir, 'sync.xml');
    const libXmlOut = path.join(dir, 'libwbxml-out.xml');
    const libWbxmlOut = path.join(dir, 'libwbxml-out.wbxml');
    const ourOut = path.join(dir, 'easkit-out');
    const libDecode = ['-l', 'ACTIVESYNC', '-m', '1', '-i', '1', '-o'];
    const libEncode = ['-a', '-n', '-v', '1.3', '-o'];
    const quiet = path.join(dir, 'stdout');
    timeProcess('wbxml2xml', [...libDecode, xmlFile, wbxmlFile], { output: quiet, runs: 1 });
    const wbxmlSize = statSync(wbxmlFile).size;
    const xmlSize = statSync(xmlFile).size;
    const rows = [];
    const compare = (direction, inputSize, ours, theirs) => {
      const us = timeProcess(process.execPath, ours, { output: ourOut });
      const them = timeProcess(theirs[0], theirs.slice(1), { output: quiet });
      rows.push([
        direction,
        size(inputSize),
        `${us.ms.toFixed(0)} ms (${us.runs})`,
        `${them.ms.toFixed(0)} ms (${them.runs})`,
        `${(them.ms / us.ms).toFixed(1)}x`,
      ]);
    };
    compare(
      'decode: WBXML to XML',
      wbxmlSize,
      [cli, 'decode', wbxmlFile],
      ['wbxml2xml', ...libDecode, libXmlOut, wbxmlFile],
    );
    compare(
      'encode: XML to WBXML',
      xmlSize,
      [cli, 'encode', '--max-input-bytes', String(256 * 1024 * 1024), xmlFile],
      ['xml2wbxml', ...libEncode, libWbxmlOut, xmlFile],
    );
    console.log(
      'Command line, whole process: median wall-clock time (runs), 3 runs or fewer when a tool needs more\n' +
        'than 2 minutes in all\n',
    );
    table(['direction', 'input', 'easkit-wbxml', 'libwbxml', 'libwbxml time / ours'], rows);
    console.log(
      `easkit-wbxml: node dist/cli.js decode|encode FILE > out; libwbxml: wbxml2xml ${libDecode.join(' ')} ` +
        `out FILE, xml2wbxml ${libEncode.join(' ')} out FILE`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
