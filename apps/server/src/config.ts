import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const flag = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  return value;
}, z.boolean());

/**
 * The server's settings. Read from a file (YAML or JSON, `--config` or `EASKIT_CONFIG`) and then from the
 * environment, which wins; everything has a default, so no configuration at all runs the embedded demo.
 */
export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8080),
        /** The address devices reach the server at, for Autodiscover; default: from the request's Host. */
        publicUrl: z.url().optional(),
        /**
         * Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: `false` none (default), `true`
         * any, or a list of proxy IP addresses.
         */
        trustProxy: z.union([flag, z.array(z.string().min(1))]).default(false),
        /** Serve HTTPS with these PEM files (re-read on SIGHUP); without them plain HTTP (behind a TLS proxy). */
        tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
        /** Idle time before a keep-alive connection is closed; above the longest Ping so proxies never race us. */
        keepAliveTimeoutSec: positiveInt.default(3660),
        /** Request bodies above this size get 413. */
        maxBodyBytes: z.coerce
          .number()
          .int()
          .min(1024)
          .default(32 * 1024 * 1024),
      })
      .prefault({}),
    storage: z
      .object({
        /** `pglite` (embedded PostgreSQL in `dataDir`), `postgres` (`databaseUrl`) or `memory` (lost on exit). */
        kind: z.enum(['memory', 'pglite', 'postgres']).optional(),
        dataDir: z.string().min(1).default('./data'),
        databaseUrl: z.string().min(1).optional(),
        /**
         * PostgreSQL: run statements as named prepared statements (parsed and planned once per connection).
         * Turn off behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
         */
        preparedStatements: z.boolean().default(true),
      })
      .prefault({}),
    redis: z
      .object({
        /** Adds Redis: push fan-out across instances always, sync state when `syncState` is `redis`. */
        url: z.string().min(1).optional(),
        syncState: z.enum(['database', 'redis']).default('database'),
        keyPrefix: z.string().default('easkit:'),
      })
      .prefault({}),
    ping: z
      .object({
        minHeartbeatSec: positiveInt.default(60),
        maxHeartbeatSec: positiveInt.max(3540).default(3540),
        maxFolders: positiveInt.default(300),
      })
      .prefault({}),
    /** Outgoing mail: an SMTP relay; without one, mail to local addresses is delivered and other mail refused. */
    smtpRelay: z
      .object({
        host: z.string().min(1),
        port: port.default(25),
        secure: flag.default(false),
        requireTls: flag.default(false),
        user: z.string().optional(),
        password: z.string().optional(),
      })
      .optional(),
    /** Incoming mail: an SMTP listener for local addresses. */
    mailIn: z
      .object({
        port: port.optional(),
        host: z.string().min(1).default('127.0.0.1'),
        maxMessageBytes: positiveInt.default(50 * 1024 * 1024),
      })
      .prefault({}),
    /** ValidateCert: the certificates devices' chains must end at, and offline CRLs (PEM or DER files). */
    validateCert: z
      .object({
        trustAnchorFiles: z.array(z.string().min(1)).min(1),
        crlFiles: z.array(z.string().min(1)).default([]),
      })
      .optional(),
    policy: z
      .object({
        /**
         * With no policy configured for a user or as the default: `provision` has devices provision the built-in
         * default policy before they sync (what Exchange does); `skip` lets them sync without a policy key.
         */
        withoutPolicy: z.enum(['provision', 'skip']).default('provision'),
      })
      .prefault({}),
    devices: z
      .object({
        /**
         * Per-device statistics (requests, items, bytes) are collected for this long and written in one
         * statement; 0 writes each request's before it is answered. A crash loses at most this much of them.
         */
        statisticsBatchMs: z.number().int().min(0).max(60_000).default(1000),
        /**
         * A Ping within this long of the same device's previous request reuses that request's check-in (one
         * database read fewer per Ping after a Sync); wipes, blocks and EAS switches still end it at once.
         * 0: every request checks in.
         */
        checkInReuseMs: z.number().int().min(0).max(10_000).default(2000),
      })
      .prefault({}),
    meetings: z
      .object({
        /**
         * Send the organizer an iCalendar REPLY for MeetingResponse from 12.x/14.x clients too (the spec has
         * those clients send it themselves with SendMail; some never do).
         */
        replyBefore16: flag.default(true),
      })
      .prefault({}),
    /** Also accept OAuth2 bearer tokens (JWTs) signed by a key of this JWKS file. */
    jwt: z
      .object({
        jwksFile: z.string().min(1),
        issuer: z.string().min(1),
        audience: z.string().min(1),
        claim: z.string().min(1).optional(),
      })
      .optional(),
    /** The domain of bare account names (`alice`, `DOMAIN\alice`). */
    defaultDomain: z.string().min(1).default('easkit.test'),
    demo: z
      .object({
        /** Create the demo account on an empty store. */
        enabled: flag.default(true),
        /** Its password; generated and printed at start-up when unset. */
        password: z.string().min(1).optional(),
      })
      .prefault({}),
    admin: z
      .object({
        /** Bearer token for the admin API at /admin/v1; the API is off without one. */
        token: z.string().min(16).optional(),
      })
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((config) => config.ping.minHeartbeatSec <= config.ping.maxHeartbeatSec, {
    message: 'ping.minHeartbeatSec must not exceed ping.maxHeartbeatSec',
    path: ['ping', 'minHeartbeatSec'],
  });

export type ServerConfig = z.infer<typeof configSchema>;
export type StorageKind = NonNullable<ServerConfig['storage']['kind']>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment variables and the setting each overrides. */
export const ENVIRONMENT_VARIABLES = {
  EASKIT_HOST: 'server.host',
  EASKIT_PORT: 'server.port',
  EASKIT_PUBLIC_URL: 'server.publicUrl',
  EASKIT_TRUST_PROXY: 'server.trustProxy',
  EASKIT_TLS_CERT: 'server.tls.certFile',
  EASKIT_TLS_KEY: 'server.tls.keyFile',
  EASKIT_MAX_BODY_BYTES: 'server.maxBodyBytes',
  EASKIT_STORAGE: 'storage.kind',
  EASKIT_DATA_DIR: 'storage.dataDir',
  DATABASE_URL: 'storage.databaseUrl',
  REDIS_URL: 'redis.url',
  EASKIT_SYNC_STATE: 'redis.syncState',
  EASKIT_REDIS_PREFIX: 'redis.keyPrefix',
  EASKIT_SMTP_HOST: 'smtpRelay.host',
  EASKIT_SMTP_PORT: 'smtpRelay.port',
  EASKIT_SMTP_USER: 'smtpRelay.user',
  EASKIT_SMTP_PASSWORD: 'smtpRelay.password',
  EASKIT_MAIL_IN_PORT: 'mailIn.port',
  EASKIT_MAIL_IN_HOST: 'mailIn.host',
  EASKIT_DEFAULT_DOMAIN: 'defaultDomain',
  EASKIT_DEMO: 'demo.enabled',
  EASKIT_DEMO_PASSWORD: 'demo.password',
  EASKIT_ADMIN_TOKEN: 'admin.token',
  EASKIT_LOG_LEVEL: 'logLevel',
} as const;

export interface LoadConfigOptions {
  /** A YAML or JSON file; default `EASKIT_CONFIG` from `env`, else none. */
  file?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Reads the file (if any), applies the environment on top and validates the result; throws `ConfigError`
 * naming every bad setting by its path and, where it came from the environment, its variable.
 */
export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? nonEmpty(env.EASKIT_CONFIG);
  let input: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read the configuration file ${file}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      throw new ConfigError(`${file} is not valid YAML or JSON: ${(error as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`${file} must hold a mapping of settings`);
      }
      input = parsed as Record<string, unknown>;
    }
  }
  const fromVariable = new Map<string, string>();
  for (const [variable, path] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const value = nonEmpty(env[variable]);
    if (value === undefined) continue;
    setPath(input, path, variable === 'EASKIT_TRUST_PROXY' ? trustProxyValue(value) : value);
    fromVariable.set(path, variable);
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const variable = fromVariable.get(path);
      return `${variable ? `${variable} (${path})` : path || 'configuration'}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  config.storage.kind ??= config.storage.databaseUrl ? 'postgres' : 'pglite';
  if (config.storage.kind === 'postgres' && !config.storage.databaseUrl) {
    throw new ConfigError(
      'invalid configuration: storage.kind is postgres but DATABASE_URL / storage.databaseUrl is not set',
    );
  }
  if (config.redis.syncState === 'redis' && !config.redis.url) {
    throw new ConfigError('invalid configuration: EASKIT_SYNC_STATE=redis needs REDIS_URL / redis.url');
  }
  return config;
}

/** The configuration from the environment alone (no file unless `EASKIT_CONFIG` names one). */
export function configFromEnv(env: Record<string, string | undefined> = process.env): ServerConfig {
  return loadConfig({ env });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function trustProxyValue(value: string): string | string[] {
  return /^(1|true|yes|on|0|false|no|off)$/i.test(value)
    ? value
    : value.split(',').map((part) => part.trim());
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}
