import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createEasHandler,
  createNodeListener,
  type EasCommandHandler,
  type EasCommandName,
  type EasRequestLog,
} from '@easkit/eas-commands';
import type { MailboxStore } from '@easkit/mailbox';
import type { Logger } from 'pino';
import { createAuthenticator } from './authenticator.js';
import type { ServerConfig } from './config.js';
import type { PasswordDirectory } from './passwords.js';

export interface EasServerParts {
  readonly config: ServerConfig;
  readonly mailbox: MailboxStore;
  readonly passwords: PasswordDirectory;
  readonly commands: Partial<Record<EasCommandName, EasCommandHandler>>;
  readonly logger: Logger;
  /** Bare account names (`alice`, `DOMAIN\alice`) are read as `alice@<defaultDomain>`. */
  readonly defaultDomain?: string;
}

export interface RunningServer {
  readonly server: Server;
  /** `http://host:port`, with the port actually bound (useful with port 0). */
  readonly url: string;
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

/** Builds the EAS endpoint from its parts and starts listening on the configured host and port. */
export async function startEasServer(parts: EasServerParts): Promise<RunningServer> {
  const handler = createEasHandler({
    authenticate: createAuthenticator(parts.mailbox, parts.passwords, parts.defaultDomain),
    commands: parts.commands,
    onRequest: (entry) => logRequest(parts.logger, entry),
  });
  const server = createServer(
    createNodeListener({
      handler,
      maxBodyBytes: parts.config.maxBodyBytes,
      onError: (error) => parts.logger.error({ err: error }, 'adapter failure'),
    }),
  );
  // Ping and Sync hang for minutes by design; node's defaults would cut them off.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parts.config.port, parts.config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets go now; requests still being answered get a few seconds to finish.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}
