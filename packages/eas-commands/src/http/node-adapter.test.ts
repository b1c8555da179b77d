import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeListener } from './node-adapter.js';
import type { EasHttpRequest } from './request.js';

describe('node:http adapter', () => {
  let server: Server;
  let base: string;
  const seen: EasHttpRequest[] = [];

  beforeAll(async () => {
    server = createServer(
      createNodeListener({
        maxBodyBytes: 1000,
        handler: async (request) => {
          seen.push(request);
          if (request.url.includes('boom')) throw new Error('handler failure');
          const size = Number(new URL(request.url, 'http://x').searchParams.get('size') ?? '0');
          return {
            status: 200,
            headers: { 'Content-Type': 'application/vnd.ms-sync.wbxml' },
            body: new Uint8Array(size).fill(0x41),
          };
        },
        onError: () => undefined,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('passes method, url, lower-case headers and body to the handler', async () => {
    const response = await fetch(`${base}/Microsoft-Server-ActiveSync?Cmd=Sync`, {
      method: 'POST',
      headers: { 'MS-ASProtocolVersion': '14.1', 'Content-Type': 'application/vnd.ms-sync.wbxml' },
      body: new Uint8Array([3, 1, 0x6a, 0]),
    });
    expect(response.status).toBe(200);
    const request = seen.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/Microsoft-Server-ActiveSync?Cmd=Sync');
    expect(request.headers['ms-asprotocolversion']).toBe('14.1');
    expect([...request.body]).toEqual([3, 1, 0x6a, 0]);
  });

  it('gzips large responses when the client accepts gzip, and only then', async () => {
    const zipped = await fetch(`${base}/x?size=5000`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect((await zipped.arrayBuffer()).byteLength).toBe(5000); // fetch inflates transparently
    const raw = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`${base}/x?size=5000`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject),
      );
    });
    expect(raw.length).toBeLessThan(5000);
    expect(gunzipSync(raw).length).toBe(5000);
    const plain = await fetch(`${base}/x?size=5000`, { headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    const small = await fetch(`${base}/x?size=10`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(small.headers.get('content-encoding')).toBeNull();
  });

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const declared = await fetch(`${base}/x`, { method: 'POST', body: new Uint8Array(2000) });
    expect(declared.status).toBe(413);
    const streamed = await fetch(`${base}/x`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(400));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('answers 500 without details when the handler throws', async () => {
    const response = await fetch(`${base}/boom`, { method: 'POST' });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
  });
});
