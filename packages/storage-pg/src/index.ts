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
export { type MigrateResult, migrate } from './migrate.js';
export { type Migration, migrations } from './migrations/index.js';
export { PgSyncStateStore, type PgSyncStateStoreOptions } from './sync-state-store.js';
