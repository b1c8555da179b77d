import pg from 'pg';
import { type Database, pgliteDatabase, postgresDatabase } from '../src/database.js';
import { migrate } from '../src/migrate.js';

/**
 * Test databases. Every test file gets its own PostgreSQL database (`easkit_test_<name>`, dropped and created
 * fresh) on the server at `EASKIT_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), and
 * PGlite databases in memory. In CI a PostgreSQL server that cannot be reached fails the run; on a laptop
 * without one, the PostgreSQL suites skip with one warning line.
 */
const adminUrl = process.env.EASKIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let reachable: Promise<boolean> | undefined;

/** Whether the test PostgreSQL server answers; throws in CI when it does not. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      if (process.env.CI) {
        throw new Error(`PostgreSQL at ${adminUrl} is required in CI: ${(error as Error).message}`);
      }
      console.warn(
        `[storage-pg] SKIPPING PostgreSQL suites: no server at ${adminUrl} (${(error as Error).message})`,
      );
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

export interface TestDatabase {
  database: Database;
  pool?: pg.Pool;
  /** The connection string of the database (PostgreSQL only), for a second instance or a child process. */
  url?: string;
  close(): Promise<void>;
}

/**
 * A fresh, migrated PostgreSQL database for one test file. `name` must be unique across test files
 * (letters, digits and underscores).
 */
export async function freshPostgres(
  name: string,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad test database name ${name}`);
  const dbName = `easkit_test_${name}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  const database = postgresDatabase({ pool });
  if (options.migrate !== false) await migrate(database);
  return {
    database,
    pool,
    url: url.toString(),
    async close() {
      await database.close();
      await pool.end();
    },
  };
}

/** A fresh, migrated PGlite database in memory. */
export async function freshPGlite(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const database = await pgliteDatabase();
  if (options.migrate !== false) await migrate(database);
  return { database, close: () => database.close() };
}
