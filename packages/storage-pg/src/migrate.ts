import type { Database } from './database.js';
import { type Migration, migrations as packageMigrations } from './migrations/index.js';

export interface MigrateResult {
  /** Ids of the migrations this call applied, in order. */
  applied: string[];
  /** Ids that were already in place. */
  skipped: string[];
}

/** A key for `pg_advisory_xact_lock`, so that instances starting together run migrations one at a time. */
const MIGRATION_LOCK_KEY = 7_301_560_447;

/**
 * Brings the schema up to date: creates the bookkeeping table, takes a transaction-scoped advisory lock (parallel
 * instances wait for each other instead of racing), and applies each missing migration in order, all in one
 * transaction, so a failure leaves the schema as it was. Safe to call on every start.
 */
export async function migrate(
  database: Database,
  migrations: readonly Migration[] = packageMigrations,
): Promise<MigrateResult> {
  checkOrder(migrations);
  return database.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS easkit_migrations (
         id text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await tx.query<{ id: string }>('SELECT id FROM easkit_migrations')).rows.map((row) => row.id),
    );
    const result: MigrateResult = { applied: [], skipped: [] };
    for (const migration of migrations) {
      if (done.has(migration.id)) {
        result.skipped.push(migration.id);
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO easkit_migrations (id) VALUES ($1)', [migration.id]);
      result.applied.push(migration.id);
    }
    return result;
  });
}

function checkOrder(migrations: readonly Migration[]): void {
  for (let index = 1; index < migrations.length; index++) {
    const previous = migrations[index - 1] as Migration;
    const current = migrations[index] as Migration;
    if (!(previous.id < current.id)) {
      throw new Error(`migrations out of order: ${previous.id} before ${current.id}`);
    }
  }
}
