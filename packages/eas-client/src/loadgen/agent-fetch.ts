import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FetchFunction } from '../transport.js';

/** The connections of a load run: one keep-alive agent per scheme, shared by every simulated device. */
export interface AgentFetch {
  fetch: FetchFunction;
  /** Open sockets (in use and idle), for the report. */
  sockets(): number;
  /** Closes idle sockets; call when the run is over. */
  close(): void;
}

/**
 * A `fetch` over `node:http` with one keep-alive agent. The global `fetch` (undici) gives up on an answer
 * whose headers take more than 300 s, which a Ping with a longer heartbeat legitimately does (iOS-like
 * devices wait 900 s and more); here a request waits as long as its signal allows, as a phone does.
 */
export function agentFetch(options: { rejectUnauthorized?: boolean } = {}): AgentFetch {
  const http = new HttpAgent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const https = new HttpsAgent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  });
  const fetchFunction: FetchFunction = (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input);
      const secure = url.protocol === 'https:';
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const body = bodyBytes(init.body);
      if (body) headers['content-length'] = String(body.length);
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? https : http },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            signal?.removeEventListener('abort', onAbort);
            const answer = new Headers();
            for (let index = 0; index + 1 < response.rawHeaders.length; index += 2) {
              answer.append(response.rawHeaders[index] as string, response.rawHeaders[index + 1] as string);
            }
            const status = response.statusCode ?? 0;
            // A Response of 204, 205 or 304 may not have a body.
            const content = status === 204 || status === 205 || status === 304 ? null : Buffer.concat(chunks);
            resolve(
              new Response(content, { status, statusText: response.statusMessage ?? '', headers: answer }),
            );
          });
        },
      );
      const onAbort = () =>
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(new TypeError('fetch failed', { cause: error }));
      });
      request.end(body);
    });
  const count = (agent: HttpAgent) =>
    [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)].reduce(
      (total, list) => total + (list?.length ?? 0),
      0,
    );
  return {
    fetch: fetchFunction,
    sockets: () => count(http) + count(https),
    close: () => {
      http.destroy();
      https.destroy();
    },
  };
}

function bodyBytes(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('agentFetch sends strings and bytes only');
}
