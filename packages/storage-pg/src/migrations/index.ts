import { mailboxMigration } from './0001_mailbox.js';
import { syncStateMigration } from './0002_sync_state.js';
import { devicesMigration } from './0003_devices.js';
import { pushMigration } from './0004_push.js';
import { mailboxPushMigration } from './0005_mailbox_push.js';

/**
 * The schema, as an ordered list of forward-only migrations. A migration is never edited once released: a
 * change is a new entry at the end. There is no `down`: to go back, restore a backup taken before upgrading
 * (the README says so). Ids sort in the order they apply.
 */
export interface Migration {
  /** `NNNN_short_name`, unique, in ascending order. */
  id: string;
  /** Statements run in one transaction with the bookkeeping row. */
  sql: string;
}

/**
 * Every migration of the package, in order. Each part of the schema lives in its own file; add new
 * migrations at the end.
 */
export const migrations: readonly Migration[] = [
  mailboxMigration,
  syncStateMigration,
  devicesMigration,
  pushMigration,
  mailboxPushMigration,
];
