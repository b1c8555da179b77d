import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { decode, eas, encode } from '@easkit/wbxml';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The README's mounting example must run as written; the test only points its imports at the sources,
// asks for a free port instead of 8080, and keeps a handle on the server to talk to it and close it.
const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
const example =
  [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .find((block) => block.includes('createNodeListener')) ?? '';
mkdirSync(join(import.meta.dirname, '../test'), { recursive: true });
const scratch = mkdtempSync(join(import.meta.dirname, '../test/.readme-'));
let server: Server | undefined;

afterAll(async () => {
  if (server) await new Promise((resolve) => server!.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

describe('README', () => {
  it('mounts the endpoint on node:http as the example shows', async () => {
    expect(example).toContain('listen(8080');
    const file = join(scratch, 'example.ts');
    const source = example
      .replace("from '@easkit/eas-commands'", `from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))}`)
      .replace(
        "from '@easkit/wbxml'",
        `from ${JSON.stringify(join(import.meta.dirname, '../../wbxml/src/index.ts'))}`,
      )
      .replace('createServer(createNodeListener', 'export const server = createServer(createNodeListener')
      .replace('listen(8080', 'listen(0');
    writeFileSync(file, source);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      server = ((await import(file)) as { server: Server }).server;
      if (!server.listening) await new Promise((resolve) => server!.once('listening', resolve));
      const { port } = server.address() as AddressInfo;
      const response = await fetch(
        `http://127.0.0.1:${port}/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=d1&DeviceType=Phone`,
        {
          method: 'POST',
          headers: {
            Authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}`,
            'MS-ASProtocolVersion': '14.1',
            'Content-Type': 'application/vnd.ms-sync.wbxml',
          },
          body: encode(eas.FolderHierarchy.FolderSync(eas.FolderHierarchy.SyncKey('0'))),
        },
      );
      expect(response.status).toBe(200);
      expect(decode(new Uint8Array(await response.arrayBuffer())).textOf('SyncKey')).toBe('1');
      expect(log).toHaveBeenCalledOnce();
      expect(String(log.mock.calls[0]![0])).toBe('alice@example.com');
    } finally {
      log.mockRestore();
    }
  });
});
