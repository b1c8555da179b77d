import type { Migration } from './index.js';

/**
 * Sync states, one row per (user, device, collection). `sync_key` is the state's newest key (the pending key if
 * there is a pending part, else the confirmed key): the column the compare-and-set tests. `state` holds the whole
 * `CollectionState` as JSON text rather than `jsonb`, because the contract asks for an exact round trip of any
 * JSON-able state and `jsonb` refuses the escape `\u0000` inside strings. Key parts use the "C" collation, so
 * they compare as exact strings whatever the database's locale.
 */
export const syncStateMigration: Migration = {
  id: '0002_sync_state',
  sql: `
    CREATE TABLE easkit_sync_states (
      user_id text COLLATE "C" NOT NULL,
      device_id text COLLATE "C" NOT NULL,
      collection_id text COLLATE "C" NOT NULL,
      sync_key text COLLATE "C" NOT NULL,
      state text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, device_id, collection_id)
    );
  `,
};
