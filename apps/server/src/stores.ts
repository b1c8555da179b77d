import { mkdirSync } from 'node:fs';
import { MemorySettingsStore, type SettingsStore } from '@easkit/eas-commands';
import { type MailboxStore, MemoryMailboxStore } from '@easkit/mailbox';
import { type DeviceStore, MemoryDeviceStore } from '@easkit/policy';
import { type DeviceClaims, InProcessPushBus, type PushBus } from '@easkit/push';
import {
  type Database,
  migrate,
  PgDeviceStore,
  PgMailboxStore,
  PgPushBus,
  PgSyncStateStore,
  pgliteDatabase,
  postgresDatabase,
} from '@easkit/storage-pg';
import {
  createRedisCounters,
  createRedisPushBus,
  createRedisSyncStateStore,
  type RedisPushBus,
} from '@easkit/storage-redis';
import { MemorySyncStateStore, type SyncStateStore } from '@easkit/sync-state';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import { type LoginThrottle, MemoryLoginThrottle, sharedLoginThrottle } from './lockout.js';
import {
  CREDENTIALS_MIGRATIONS,
  type CredentialStore,
  MemoryCredentialStore,
  SqlCredentialStore,
} from './passwords.js';
import { SETTINGS_MIGRATION, SqlSettingsStore } from './settings-store.js';

/** The server's own tables (password hashes, Settings data), in order. */
export const SERVER_MIGRATIONS = [...CREDENTIALS_MIGRATIONS, SETTINGS_MIGRATION];

/** The stores the server runs on, chosen by the configuration, and how to check and release them. */
export interface ServerStores {
  /** The store itself; the app wraps it so that writes publish to `bus`. */
  readonly mailbox: MailboxStore;
  readonly syncState: SyncStateStore;
  readonly devices: DeviceStore;
  readonly credentials: CredentialStore;
  /** Out-of-office settings and device recovery passwords (the Settings command). */
  readonly settings: SettingsStore;
  readonly bus: PushBus;
  /** Cross-instance superseding of waiting requests (Redis), for the WaiterRegistry. */
  readonly claims?: DeviceClaims;
  /** Failed-login lockout: per instance, or shared through Redis. */
  readonly throttle: LoginThrottle;
  /** Carries administrators' interrupts (wipe, block) to every instance (Redis); else this process only. */
  readonly relayInterrupts?: (
    local: (scope: { user?: string; deviceId?: string }) => void,
  ) => Promise<(scope: { user?: string; deviceId?: string }) => void>;
  /** The SQL database, when the stores are on PostgreSQL or PGlite. */
  readonly database?: Database;
  /** Where the data lives, for the start-up line. */
  readonly description: string;
  /** Resolves when every store answers (for /readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the configured stores: `memory` (tests, nothing kept), `pglite` (embedded PostgreSQL in a folder: the
 * default, one process) or `postgres` (any number of instances; they wake each other's Pings through
 * LISTEN/NOTIFY). Migrations run on start, under an advisory lock, so instances starting together do not race.
 */
export async function openStores(config: ServerConfig, logger: Logger): Promise<ServerStores> {
  const kind = config.storage.kind ?? 'pglite';
  if (kind === 'memory') {
    return {
      mailbox: new MemoryMailboxStore(),
      syncState: new MemorySyncStateStore(),
      devices: new MemoryDeviceStore(),
      credentials: new MemoryCredentialStore(),
      settings: new MemorySettingsStore(),
      bus: new InProcessPushBus(),
      throttle: new MemoryLoginThrottle(),
      description: 'in-memory store; nothing is kept after exit',
      ready: async () => {},
      close: async () => {},
    };
  }

  let database: Database;
  let pool: pg.Pool | undefined;
  let description: string;
  if (kind === 'pglite') {
    mkdirSync(config.storage.dataDir, { recursive: true });
    database = await pgliteDatabase({ dataDir: config.storage.dataDir });
    description = `embedded PostgreSQL (PGlite) in ${config.storage.dataDir}`;
  } else {
    pool = new pg.Pool({ connectionString: config.storage.databaseUrl, max: 20 });
    pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
    database = postgresDatabase({ pool, preparedStatements: config.storage.preparedStatements });
    description = `PostgreSQL at ${redactUrl(config.storage.databaseUrl ?? '')}`;
  }
  try {
    const applied = await migrate(database);
    const applied2 = await migrate(database, SERVER_MIGRATIONS);
    const ids = [...applied.applied, ...applied2.applied];
    if (ids.length > 0) logger.info({ migrations: ids }, 'database schema updated');
  } catch (error) {
    await database.close();
    await pool?.end();
    throw error;
  }
  const redis = config.redis.url ? openRedis(config, logger) : undefined;
  // One process owns a PGlite folder, so the in-process bus is all it needs; instances sharing PostgreSQL
  // wake each other through LISTEN/NOTIFY, or through Redis when it is configured.
  const pgBus =
    kind === 'postgres' && !redis
      ? new PgPushBus({
          database,
          onError: (error) => logger.warn({ err: error }, 'push listener failed'),
          onDisconnect: (error) => logger.warn({ err: error }, 'push LISTEN connection lost; reconnecting'),
          onReconnect: () => logger.info('push LISTEN connection back; waiting devices re-check'),
        })
      : undefined;
  const bus: PushBus = redis?.bus ?? pgBus ?? new InProcessPushBus();
  return {
    mailbox: new PgMailboxStore({ database }),
    syncState: redis?.syncState ?? new PgSyncStateStore({ database }),
    devices: new PgDeviceStore({ database }),
    credentials: new SqlCredentialStore(database),
    settings: new SqlSettingsStore(database),
    bus,
    ...(redis ? { claims: redis.bus, relayInterrupts: redis.relayInterrupts } : {}),
    throttle: redis?.throttle ?? new MemoryLoginThrottle(),
    database,
    description: redis
      ? `${description}, Redis for push${redis.syncState ? ' and sync state' : ''}`
      : description,
    ready: async () => {
      await database.query('SELECT 1');
      if (redis) await redis.client.ping();
    },
    close: async () => {
      await pgBus?.close();
      await redis?.close();
      await database.close();
      await pool?.end();
    },
  };
}

/** Redis for push fan-out, cross-instance superseding, interrupts and lockout; sync state when asked. */
function openRedis(config: ServerConfig, logger: Logger) {
  const url = config.redis.url as string;
  const keyPrefix = config.redis.keyPrefix;
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscriber = new Redis(url, { lazyConnect: false });
  for (const connection of [client, subscriber]) {
    connection.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection error'));
  }
  const bus: RedisPushBus = createRedisPushBus({
    client,
    subscriber,
    keyPrefix,
    // A woken device Syncs and Pings again within a second or two: its user's channel stays subscribed
    // meanwhile, rather than an UNSUBSCRIBE and a SUBSCRIBE per wake-up.
    releaseDelayMs: 10_000,
    onError: (error) => logger.warn({ err: error }, 'push listener failed'),
  });
  const syncState =
    config.redis.syncState === 'redis' ? createRedisSyncStateStore({ client, keyPrefix }) : undefined;
  const throttle = sharedLoginThrottle(createRedisCounters({ client, keyPrefix }));
  return {
    client,
    bus,
    syncState,
    throttle,
    relayInterrupts: async (local: (scope: { user?: string; deviceId?: string }) => void) => {
      const relay = await bus.relayInterrupts(local);
      return (scope: { user?: string; deviceId?: string }) => void relay.interrupt(scope);
    },
    close: async () => {
      await bus.close();
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}
