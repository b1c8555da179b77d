import pg from 'pg';
import { postgresDatabase } from '../src/database.js';
import { freshPostgres, type TestDatabase } from './databases.js';

/** The MailboxStore's tables, for `TRUNCATE` between checks that share one database. */
export const MAILBOX_TABLES =
  'easkit_mailbox_item_tombstones, easkit_mailbox_items, easkit_mailbox_folder_tombstones, ' +
  'easkit_mailbox_folders, easkit_mailbox_addresses, easkit_mailbox_users';

/**
 * A fresh, migrated test database (see `freshPostgres`) whose sessions commit without waiting for the WAL
 * flush: the mailbox suites make tens of thousands of small commits, and durability is not what they check
 * (the store behaves the same either way).
 */
export async function fastPostgres(name: string): Promise<TestDatabase> {
  const fresh = await freshPostgres(name);
  await fresh.close();
  const pool = new pg.Pool({ connectionString: fresh.url, max: 10, options: '-c synchronous_commit=off' });
  return { database: postgresDatabase({ pool }), pool, url: fresh.url, close: () => pool.end() };
}
