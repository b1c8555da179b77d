import { runMailboxConformance } from '@easkit/mailbox/conformance';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { postgresDatabase } from './database.js';
import { PgMailboxStore } from './mailbox-store.js';

/** Every check starts from empty mailbox tables: the checks of one suite run one after the other on one database. */
export const MAILBOX_TABLES =
  'easkit_mailbox_item_tombstones, easkit_mailbox_items, easkit_mailbox_folder_tombstones, ' +
  'easkit_mailbox_folders, easkit_mailbox_addresses, easkit_mailbox_users';

function suite(name: string, open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => target?.close());
  runMailboxConformance({
    name,
    create: async () => {
      await target.database.exec(`TRUNCATE ${MAILBOX_TABLES}`);
      return new PgMailboxStore({ database: target.database });
    },
  });
}

describe('PgMailboxStore on PGlite', () => suite('PGlite', () => freshPGlite()));

/**
 * A fresh test database whose sessions commit without waiting for the WAL flush: the suite makes tens of
 * thousands of small commits, and durability is not what it checks (the behaviour is the same either way).
 */
export async function fastPostgres(name: string): Promise<TestDatabase> {
  const fresh = await freshPostgres(name);
  await fresh.close();
  const pool = new pg.Pool({ connectionString: fresh.url, max: 10, options: '-c synchronous_commit=off' });
  return { database: postgresDatabase({ pool }), pool, url: fresh.url, close: () => pool.end() };
}

describe.runIf(await postgresAvailable())('PgMailboxStore on PostgreSQL', () =>
  suite('PostgreSQL', () => fastPostgres('mailbox')),
);
