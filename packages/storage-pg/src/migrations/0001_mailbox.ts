import type { Migration } from './index.js';

/**
 * The MailboxStore schema (see mailbox-store.ts for how each table is read and written).
 *
 * - Every user has one counter row, `easkit_mailbox_users.modseq`. A mutation takes the next value with
 *   `UPDATE ... RETURNING` in the transaction (or single statement) that makes the change, so a user's writes
 *   are serialized on that row and commit in modseq order.
 * - Folder and item ids come from one sequence and are global, but every lookup also names the user (ids mean
 *   something only for their owner). Moved items get a new id.
 * - An item row keeps the modseq at which it entered its folder (`added_modseq`, creation or move-in) and the
 *   modseq of its latest write (`modseq`); a delete or move-out leaves a tombstone row with both. `changes`
 *   reads three index ranges on (folder_id, modseq-ish) and so costs the changes since the cursor, never the
 *   folder size.
 * - `data` (JSONB) is the item's class data in a lossless encoding (dates, bytes, and strings Postgres text
 *   cannot hold are tagged); Email MIME is `bytea` and never in JSON. The other item columns (subject,
 *   received_at, read, ...) are projections for queries and operators, rewritten on every write.
 */
export const mailboxMigration: Migration = {
  id: '0001_mailbox',
  sql: `
CREATE SEQUENCE easkit_mailbox_ids;

CREATE TABLE easkit_mailbox_users (
  id text COLLATE "C" PRIMARY KEY,
  primary_address text NOT NULL,
  aliases text[] NOT NULL,
  display_name text,
  modseq bigint NOT NULL DEFAULT 0
);

-- Lower-cased primary addresses and aliases: one owner each.
CREATE TABLE easkit_mailbox_addresses (
  address_key text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL REFERENCES easkit_mailbox_users (id) ON DELETE CASCADE
);
CREATE INDEX easkit_mailbox_addresses_user ON easkit_mailbox_addresses (user_id);

CREATE TABLE easkit_mailbox_folders (
  user_id text COLLATE "C" NOT NULL REFERENCES easkit_mailbox_users (id) ON DELETE CASCADE,
  id bigint NOT NULL,
  parent_id bigint,
  display_name text NOT NULL,
  name_key text COLLATE "C" NOT NULL,
  type smallint NOT NULL,
  created_modseq bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (user_id, id)
);
-- Backstops for checks the store makes under the user's lock; md5 keeps long names within index limits.
CREATE UNIQUE INDEX easkit_mailbox_folders_name ON easkit_mailbox_folders (user_id, coalesce(parent_id, 0), md5(name_key));
CREATE UNIQUE INDEX easkit_mailbox_folders_special ON easkit_mailbox_folders (user_id, type)
  WHERE type IN (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 19);

CREATE TABLE easkit_mailbox_folder_tombstones (
  user_id text COLLATE "C" NOT NULL REFERENCES easkit_mailbox_users (id) ON DELETE CASCADE,
  folder_id bigint NOT NULL,
  created_modseq bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (user_id, folder_id)
);
CREATE INDEX easkit_mailbox_folder_tombstones_written ON easkit_mailbox_folder_tombstones (user_id, modseq);

CREATE TABLE easkit_mailbox_items (
  user_id text COLLATE "C" NOT NULL,
  id bigint NOT NULL,
  folder_id bigint NOT NULL,
  class text NOT NULL,
  added_modseq bigint NOT NULL,
  modseq bigint NOT NULL,
  data jsonb NOT NULL,
  -- Email only: the raw message, and its plain and HTML bodies (UTF-8) derived once when the MIME is stored.
  mime bytea,
  body_plain bytea,
  body_html bytea,
  body_native text,
  -- Projections of data, for queries.
  subject text,
  received_at timestamptz,
  read boolean,
  flag_status smallint,
  message_class text,
  -- For countItems: Email dateReceived, Calendar end (or recurrence end; NULL while a series is open), in ms.
  window_end_ms bigint,
  complete boolean,
  PRIMARY KEY (user_id, id),
  FOREIGN KEY (user_id, folder_id) REFERENCES easkit_mailbox_folders (user_id, id) ON DELETE CASCADE
);
CREATE INDEX easkit_mailbox_items_added ON easkit_mailbox_items (folder_id, added_modseq);
CREATE INDEX easkit_mailbox_items_written ON easkit_mailbox_items (folder_id, modseq);

CREATE TABLE easkit_mailbox_item_tombstones (
  user_id text COLLATE "C" NOT NULL,
  item_id bigint NOT NULL,
  folder_id bigint NOT NULL,
  added_modseq bigint NOT NULL,
  modseq bigint NOT NULL,
  FOREIGN KEY (user_id, folder_id) REFERENCES easkit_mailbox_folders (user_id, id) ON DELETE CASCADE
);
CREATE INDEX easkit_mailbox_item_tombstones_written ON easkit_mailbox_item_tombstones (folder_id, modseq);
`,
};
