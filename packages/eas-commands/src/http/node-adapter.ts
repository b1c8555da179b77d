import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { EasHttpRequest, EasHttpResponse } from './request.js';

const gzipAsync = promisify(gzip);

export interface NodeAdapterOptions {
  /** The framework-agnostic core: a plain request in, a plain response out. */
  readonly handler: (request: EasHttpRequest) => Promise<EasHttpResponse>;
  /** Bodies larger than this are refused with 413 before they are read. Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Responses at least this large are gzipped when the client accepts gzip. Default 1 KiB. */
  readonly gzipMinBytes?: number;
  /** Called when the handler throws; the client gets a bare 500. */
  readonly onError?: (error: unknown, request: IncomingMessage) => void;
  /** The `context` of each request (see `EasHttpRequest.context`). */
  readonly context?: (request: IncomingMessage) => unknown;
}

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

class BodyTooLargeError extends Error {}

/**
 * Mounts the EAS core on `node:http` (or `node:https`): reads the body with a size bound, runs the handler,
 * and writes the response, gzipped when the client accepts it.
 *
 * ```ts
 * http.createServer(createNodeListener({ handler })).listen(8080);
 * ```
 */
export function createNodeListener(
  options: NodeAdapterOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const gzipMinBytes = options.gzipMinBytes ?? 1024;

  return (req, res) => {
    void (async () => {
      let body: Uint8Array;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          res.writeHead(413, { 'Content-Length': '0', Connection: 'close' });
          res.end();
          req.resume();
        } else {
          res.destroy();
        }
        return;
      }
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      // A device that drops its connection (a Ping it gave up on) aborts this, so the request stops waiting.
      const gone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      let response: EasHttpResponse;
      try {
        response = await options.handler({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers,
          body,
          signal: gone.signal,
          ...(options.context ? { context: options.context(req) } : {}),
        });
      } catch (error) {
        options.onError?.(error, req);
        response = { status: 500, headers: {} };
      }
      await writeResponse(res, response, /\bgzip\b/i.test(headers['accept-encoding'] ?? ''), gzipMinBytes);
    })().catch((error: unknown) => {
      options.onError?.(error, req);
      if (!res.headersSent) res.writeHead(500, { 'Content-Length': '0' });
      res.end();
    });
  };
}

async function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBodyBytes) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function writeResponse(
  res: ServerResponse,
  response: EasHttpResponse,
  acceptGzip: boolean,
  gzipMinBytes: number,
): Promise<void> {
  const headers: Record<string, string> = { ...response.headers };
  let body = response.body;
  if (body && acceptGzip && body.length >= gzipMinBytes && !headers['Content-Encoding']) {
    body = await gzipAsync(body);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = String(body?.length ?? 0);
  res.writeHead(response.status, headers);
  res.end(body);
}
