import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CommandLineIo, runCommandLine } from './command-line.js';

const FOLDERSYNC = Uint8Array.from([
  0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56, 0x52, 0x03, 0x30, 0x00, 0x01, 0x01,
]);
const FOLDERSYNC_XML = '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>';

async function run(args: string[], stdin: string | Uint8Array = '') {
  const out: (string | Uint8Array)[] = [];
  let err = '';
  const io: CommandLineIo = {
    readStdin: async () => (typeof stdin === 'string' ? Buffer.from(stdin) : stdin),
    writeStdout: (data) => out.push(data),
    writeStderr: (text) => {
      err += text;
    },
  };
  const code = await runCommandLine(args, io);
  const stdout = Buffer.concat(out.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
  return { code, stdout, stderr: err };
}

describe('easkit-wbxml command line', () => {
  it('decodes WBXML from stdin or a file to XML', async () => {
    const fromStdin = await run(['decode'], FOLDERSYNC);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout.toString()).toBe(
      '<?xml version="1.0" encoding="utf-8"?>\n<FolderSync xmlns="FolderHierarchy">\n  <SyncKey>0</SyncKey>\n</FolderSync>\n',
    );
    const dir = mkdtempSync(join(tmpdir(), 'easkit-wbxml-cli-'));
    writeFileSync(join(dir, 'request.wbxml'), FOLDERSYNC);
    const fromFile = await run(['decode', '--compact', join(dir, 'request.wbxml')]);
    expect(fromFile.stdout.toString()).toBe(`<?xml version="1.0" encoding="utf-8"?>${FOLDERSYNC_XML}\n`);
  });

  it('reads hex and base64 captures', async () => {
    const hex = await run(
      ['decode', '--input', 'hex', '--compact'],
      '03 01 6A 00 00 07 56 52 03 30 00 01 01\n',
    );
    expect(hex.stdout.toString()).toContain(FOLDERSYNC_XML);
    const base64 = await run(
      ['decode', '--input', 'base64', '--compact'],
      Buffer.from(FOLDERSYNC).toString('base64'),
    );
    expect(base64.stdout.toString()).toContain(FOLDERSYNC_XML);
  });

  it('encodes XML to WBXML, binary, hex or base64', async () => {
    expect((await run(['encode'], FOLDERSYNC_XML)).stdout).toEqual(Buffer.from(FOLDERSYNC));
    expect((await run(['encode', '--output', 'hex'], FOLDERSYNC_XML)).stdout.toString()).toBe(
      '03 01 6A 00 00 07 56 52 03 30 00 01 01\n',
    );
    expect((await run(['encode', '--output', 'base64'], FOLDERSYNC_XML)).stdout.toString().trim()).toBe(
      Buffer.from(FOLDERSYNC).toString('base64'),
    );
  });

  it('exits 1 with the typed error message on bad input', async () => {
    const bad = await run(['decode'], Uint8Array.from([0x03, 0x01, 0x6a, 0x00, 0x01]));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^easkit-wbxml: END with no element open \(at offset 4, unbalanced-end\)/);
    const badXml = await run(['encode'], '<Sync xmlns="AirSync"><Nope/></Sync>');
    expect(badXml.code).toBe(1);
    expect(badXml.stderr).toContain('unknown tag AirSync:Nope');
    const tooBig = await run(['decode', '--max-input-bytes', '5'], FOLDERSYNC);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toContain('limit-input');
    const missing = await run(['decode', '/nonexistent/file.wbxml']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read /nonexistent/file.wbxml');
  });

  it('exits 2 on bad usage and prints help on -h', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['decode', '--bogus'])).code).toBe(2);
    expect((await run(['decode', '--input', 'morse'])).code).toBe(2);
    expect((await run(['decode', '--max-input-bytes', 'x'])).code).toBe(2);
    expect((await run(['decode', 'a', 'b'])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toContain('Usage: easkit-wbxml');
  });

  it('works as the installed bin (built dist/cli.js) through real pipes', () => {
    const bin = join(import.meta.dirname, '../dist/cli.js');
    expect(existsSync(bin), 'dist/cli.js is missing: run `pnpm build` (turbo runs it before test)').toBe(
      true,
    );
    const decoded = spawnSync(process.execPath, [bin, 'decode', '--compact'], { input: FOLDERSYNC });
    expect(decoded.status).toBe(0);
    expect(decoded.stdout.toString()).toContain(FOLDERSYNC_XML);
    const encoded = spawnSync(process.execPath, [bin, 'encode'], { input: decoded.stdout });
    expect(encoded.status).toBe(0);
    expect(Buffer.from(encoded.stdout)).toEqual(Buffer.from(FOLDERSYNC));
    const failed = spawnSync(process.execPath, [bin, 'decode'], { input: Buffer.from([0x03, 0x01]) });
    expect(failed.status).toBe(1);
    expect(failed.stderr.toString()).toContain('truncated');
    expect(failed.stdout.length).toBe(0);
  });
});
