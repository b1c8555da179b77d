import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentFetch } from './agent-fetch.js';

let server: Server;
let base: string;
const pool = agentFetch();

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/hang') return; // answers never: the client's signal ends it
      if (request.url === '/empty') {
        response.writeHead(204).end();
        return;
      }
      response.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      response.writeHead(449, { 'content-type': 'text/plain', 'x-method': request.method ?? '' });
      response.end(`${request.headers['x-test']}:${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  pool.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it('sends method, headers and body, and gives back status, every header and the body', async () => {
  const response = await pool.fetch(`${base}/x`, {
    method: 'POST',
    headers: { 'X-Test': 'yes' },
    body: new TextEncoder().encode('payload'),
  });
  expect(response.status).toBe(449);
  expect(response.headers.get('x-method')).toBe('POST');
  expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
  expect(await response.text()).toBe('yes:payload');
  expect((await pool.fetch(`${base}/empty`, { method: 'GET' })).status).toBe(204);
});

it('keeps connections alive between requests', async () => {
  for (let round = 0; round < 5; round++) await (await pool.fetch(`${base}/x`, { method: 'GET' })).text();
  expect(pool.sockets()).toBe(1);
});

it('a request waits until its signal ends it', async () => {
  const controller = new AbortController();
  const pending = pool.fetch(`${base}/hang`, { method: 'POST', body: 'ping', signal: controller.signal });
  controller.abort();
  await expect(pending).rejects.toThrow();
});
