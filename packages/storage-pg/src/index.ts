export {
  type Database,
  type Listening,
  type ListenOptions,
  type NotificationListener,
  type PGliteDatabaseOptions,
  type PostgresDatabaseOptions,
  pgliteDatabase,
  postgresDatabase,
  type QueryResult,
  type SqlExecutor,
} from './database.js';
export { PgDeviceStore, type PgDeviceStoreOptions } from './device-store.js';
export {
  createPgMailboxStore,
  PgMailboxStore,
  type PgMailboxStoreOptions,
} from './mailbox-store.js';
export { type MigrateResult, migrate } from './migrate.js';
export { type Migration, migrations } from './migrations/index.js';
export {
  DEFAULT_PUSH_CHANNEL,
  MAX_PUSH_PAYLOAD_BYTES,
  notifyPush,
  PgPushBus,
  type PgPushBusOptions,
  type PgPushBusStats,
  pushPayload,
  setMailboxPushTrigger,
  userHash,
} from './push-bus.js';
export { PgSyncStateStore, type PgSyncStateStoreOptions } from './sync-state-store.js';
