import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createEasHandler,
  createNodeListener,
  type EasAuthenticator,
  type EasCommandHandler,
  type EasCommandName,
  type EasRequestLog,
  type PolicyGate,
  parseEasQuery,
} from '@easkit/eas-commands';
import type { MailboxStore } from '@easkit/mailbox';
import { decode, toXml } from '@easkit/wbxml';
import type { Logger } from 'pino';
import { createAuthenticator, type RequestScope, scopeOf } from './authenticator.js';
import {
  AUTODISCOVER_JSON_PATH,
  AUTODISCOVER_XML_PATH,
  autodiscoverJson,
  autodiscoverXml,
  MAX_AUTODISCOVER_BODY_BYTES,
} from './autodiscover.js';
import type { ServerConfig } from './config.js';
import { firstAuthenticator } from './jwt.js';
import type { LoginThrottle } from './lockout.js';
import type { ServerMetrics } from './metrics.js';
import type { PasswordDirectory } from './passwords.js';

/** A handler for paths outside EAS (the admin API); returns false when the path is not its own. */
export type ExtraRoute = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean>;

export interface EasServerParts {
  readonly config: ServerConfig;
  readonly mailbox: MailboxStore;
  readonly passwords: PasswordDirectory;
  readonly commands: Partial<Record<EasCommandName, EasCommandHandler>>;
  readonly logger: Logger;
  readonly metrics?: ServerMetrics;
  readonly throttle?: LoginThrottle;
  /** `/readyz`: resolves when the stores answer, rejects (503) when not. */
  readonly ready?: () => Promise<void>;
  readonly routes?: readonly ExtraRoute[];
  /** Provisioning enforcement (policy keys, access, wipe) in front of every command. */
  readonly policy?: PolicyGate;
  /** Users whose requests and responses are logged in full (decoded WBXML) at info level, to debug one phone. */
  readonly debugUsers?: ReadonlySet<string>;
  /** Tried after the password check (e.g. bearer tokens); see `jwtAuthenticator`. */
  readonly extraAuthenticator?: EasAuthenticator;
  /** Sees every EAS request's log entry (the per-device request log). */
  readonly onRequest?: (entry: EasRequestLog) => void;
}

export interface RunningServer {
  readonly server: Server | HttpsServer;
  /** `http(s)://host:port`, with the port actually bound (useful with port 0). */
  readonly url: string;
  /** Re-reads the TLS certificate and key (SIGHUP); no-op for plain HTTP. */
  reloadTls(): void;
  close(): Promise<void>;
}

/** Logs one line per request: user, device, command, status and time. */
function logRequest(logger: Logger, entry: EasRequestLog): void {
  const fields = {
    user: entry.user,
    device: entry.deviceId,
    deviceType: entry.deviceType,
    cmd: entry.command,
    version: entry.protocolVersion,
    status: entry.httpStatus,
    ms: Math.round(entry.durationMs * 10) / 10,
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    ...(entry.bodyExcerpt === undefined ? {} : { body: entry.bodyExcerpt }),
  };
  if (entry.error !== undefined) logger.error({ ...fields, err: entry.error }, 'request failed');
  else if (entry.httpStatus >= 400) logger.warn(fields, 'request refused');
  else logger.info(fields, 'request');
}

/** The client's address: the socket's, or X-Forwarded-For's first hop when the socket is a trusted proxy. */
export function clientAddress(
  request: IncomingMessage,
  trustProxy: boolean | readonly string[],
): string | undefined {
  const socketAddress = request.socket.remoteAddress;
  const trusted =
    trustProxy === true ||
    (Array.isArray(trustProxy) &&
      socketAddress !== undefined &&
      trustProxy.includes(socketAddress.replace(/^::ffff:/, '')));
  const forwarded = request.headers['x-forwarded-for'];
  if (trusted && typeof forwarded === 'string' && forwarded.trim() !== '') {
    return forwarded.split(',')[0]?.trim();
  }
  return socketAddress;
}

const HOST_HEADER = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The EAS URL devices should use, for Autodiscover: the configured public URL, else the request's own host. */
export function easUrlFor(request: IncomingMessage, config: ServerConfig, fallback: string): string {
  if (config.server.publicUrl)
    return new URL('/Microsoft-Server-ActiveSync', config.server.publicUrl).toString();
  const host = request.headers.host;
  const trusted = config.server.trustProxy !== false;
  const forwardedProto = trusted ? request.headers['x-forwarded-proto'] : undefined;
  const proto =
    typeof forwardedProto === 'string' && /^https?$/.test(forwardedProto)
      ? forwardedProto
      : config.server.tls
        ? 'https'
        : 'http';
  const origin = host && HOST_HEADER.test(host) ? `${proto}://${host}` : fallback;
  return `${origin}/Microsoft-Server-ActiveSync`;
}

async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

/** Builds the endpoint (EAS, Autodiscover, health, metrics, extra routes) and starts listening. */
export async function startEasServer(parts: EasServerParts): Promise<RunningServer> {
  const { config, logger, metrics } = parts;
  const authenticate = createAuthenticator({
    mailbox: parts.mailbox,
    passwords: parts.passwords,
    defaultDomain: config.defaultDomain,
    ...(parts.throttle ? { throttle: parts.throttle } : {}),
    onAttempt: (outcome, username, scope) => {
      metrics?.login(outcome);
      if (outcome === 'locked')
        logger.warn(
          { account: username, device: scope?.deviceId, ip: scope?.remoteAddress },
          'login locked out',
        );
    },
  });
  const easAuthenticate: EasAuthenticator = parts.extraAuthenticator
    ? firstAuthenticator(authenticate, parts.extraAuthenticator)
    : authenticate;
  const handler = createEasHandler({
    authenticate: easAuthenticate,
    commands: parts.commands,
    ...(parts.policy ? { policy: parts.policy } : {}),
    onRequest: (entry) => {
      logRequest(logger, entry);
      metrics?.request(entry);
      metrics?.itemsSynced(entry.itemsSent ?? 0, entry.itemsReceived ?? 0);
      parts.onRequest?.(entry);
    },
  });
  const debugUsers = parts.debugUsers;
  const easListener = createNodeListener({
    handler: debugUsers
      ? async (request) => {
          const response = await handler(request);
          const userId = scopeOf(request)?.userId;
          if (userId !== undefined && debugUsers.has(userId)) {
            logger.info(
              {
                user: userId,
                url: request.url,
                status: response.status,
                request: wbxmlText(request.body),
                response: response.body ? wbxmlText(response.body) : undefined,
              },
              'debug: full request and response',
            );
          }
          return response;
        }
      : handler,
    maxBodyBytes: config.server.maxBodyBytes,
    onError: (error) => logger.error({ err: error }, 'adapter failure'),
    context: (request) => scopes.get(request),
  });
  /** Each request's scope, from the router to the authenticator (passed along, not in AsyncLocalStorage). */
  const scopes = new WeakMap<IncomingMessage, RequestScope>();
  let origin = '';

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname.toLowerCase();
    const scope: RequestScope = {};
    const address = clientAddress(request, config.server.trustProxy);
    if (address !== undefined) scope.remoteAddress = address;
    scopes.set(request, scope);
    void route(request, response, url, path, scope).catch((error: unknown) => {
      logger.error({ err: error, path }, 'request failed');
      if (!response.headersSent) send(response, 500, { 'Content-Type': 'text/plain' }, 'internal error\n');
      else response.destroy();
    });
  };

  async function route(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    path: string,
    scope: RequestScope,
  ): Promise<void> {
    if (path === '/microsoft-server-activesync') {
      try {
        const deviceId = parseEasQuery(url.search.slice(1)).deviceId;
        if (deviceId) scope.deviceId = deviceId;
      } catch {
        // A query the EAS handler will refuse anyway.
      }
      easListener(request, response);
      return;
    }
    if (path === AUTODISCOVER_XML_PATH) {
      const body = await readBody(request, MAX_AUTODISCOVER_BODY_BYTES);
      if (body === undefined)
        // The rest of the body stays unread, so the connection cannot carry another request.
        return send(
          response,
          413,
          { 'Content-Type': 'text/plain', Connection: 'close' },
          'request too large\n',
        );
      const answer = await autodiscoverXml(request, body, {
        authenticate: (credentials) => authenticate(credentials, { context: scope }),
        easUrl: (incoming) => easUrlFor(incoming, config, origin),
        displayName: async (identity) => (await parts.mailbox.getUser(identity.userId)).displayName,
      });
      logger.info({ path, status: answer.status, ip: scope.remoteAddress }, 'autodiscover');
      return send(response, answer.status, answer.headers, answer.body);
    }
    if (path === AUTODISCOVER_JSON_PATH || path.startsWith(`${AUTODISCOVER_JSON_PATH}/`)) {
      request.resume();
      const answer = autodiscoverJson(
        request,
        url.pathname,
        url.searchParams,
        easUrlFor(request, config, origin),
      );
      return send(response, answer.status, answer.headers, answer.body);
    }
    if (path === '/healthz') {
      request.resume();
      return send(response, 200, { 'Content-Type': 'text/plain' }, 'ok\n');
    }
    if (path === '/readyz') {
      request.resume();
      try {
        await parts.ready?.();
        return send(response, 200, { 'Content-Type': 'text/plain' }, 'ready\n');
      } catch (error) {
        logger.warn({ err: error }, 'not ready');
        return send(response, 503, { 'Content-Type': 'text/plain' }, 'not ready\n');
      }
    }
    if (path === '/metrics' && metrics) {
      request.resume();
      return send(response, 200, { 'Content-Type': metrics.contentType }, await metrics.render());
    }
    for (const extra of parts.routes ?? []) {
      if (await extra(request, response, url)) return;
    }
    easListener(request, response);
  }

  const tls = config.server.tls;
  const readTls = () =>
    tls ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : undefined;
  const server = tls ? createHttpsServer({ ...readTls() }, listener) : createHttpServer(listener);
  // Ping and Sync hang for up to an hour by design; node's defaults would cut them off. Keep-alive outlives the
  // longest heartbeat so that a proxy, not us, closes idle connections first.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = config.server.keepAliveTimeoutSec * 1000;
  server.timeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
  return {
    server,
    url: origin,
    reloadTls() {
      const material = readTls();
      if (material && 'setSecureContext' in server) {
        (server as HttpsServer).setSecureContext(material);
        logger.info('TLS certificate reloaded');
      }
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets go now; requests still being answered get a few seconds to finish.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}

/** A body as XML for the debug log: decoded WBXML, or a note saying what it is. */
function wbxmlText(body: Uint8Array): string | undefined {
  if (body.byteLength === 0) return undefined;
  try {
    return toXml(decode(body));
  } catch {
    return `(${body.byteLength} bytes, not WBXML)`;
  }
}
