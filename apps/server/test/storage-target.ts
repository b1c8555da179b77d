import type { FolderId, ItemChange, StoredItem, UserId } from '@easkit/mailbox';
import { type Database, migrate, PgMailboxStore, pgliteDatabase, postgresDatabase } from '@easkit/storage-pg';
import pg from 'pg';

/** Where a spawned server keeps its data: a fresh PostgreSQL database, or a PGlite data folder. */
export type StorageTarget = { kind: 'postgres'; databaseUrl: string } | { kind: 'pglite'; dataDir: string };

/** The environment that points `dist/main.js` at the target. */
export function storageEnv(target: StorageTarget): Record<string, string> {
  return target.kind === 'postgres'
    ? { DATABASE_URL: target.databaseUrl }
    : { EASKIT_STORAGE: 'pglite', EASKIT_DATA_DIR: target.dataDir };
}

/** A direct connection to the server's data, for seeding before it starts and checking after it stops. */
export interface DirectStore {
  readonly database: Database;
  readonly mailbox: PgMailboxStore;
  close(): Promise<void>;
}

/**
 * Opens the target's database in this process (migrated, so it can be seeded before the first start). A PGlite
 * folder has one owner at a time: close this before the server starts, and open it only once the server is gone.
 */
export async function openDirectStore(target: StorageTarget): Promise<DirectStore> {
  let pool: pg.Pool | undefined;
  let database: Database;
  if (target.kind === 'postgres') {
    pool = new pg.Pool({ connectionString: target.databaseUrl, max: 4 });
    database = postgresDatabase({ pool });
  } else {
    database = await pgliteDatabase({ dataDir: target.dataDir });
  }
  await migrate(database);
  return {
    database,
    mailbox: new PgMailboxStore({ database }),
    close: async () => {
      await database.close();
      await pool?.end();
    },
  };
}

/** Every item of a folder, read through `changes` from modseq 0 (the store's own view, page by page). */
export async function folderContent(
  mailbox: PgMailboxStore,
  user: UserId,
  folderId: FolderId,
): Promise<Map<string, StoredItem>> {
  const items = new Map<string, StoredItem>();
  let cursor = 0;
  for (;;) {
    const page = await mailbox.changes(user, folderId, cursor, 5000);
    for (const change of page.changes as ItemChange[]) {
      if (change.kind === 'delete') items.delete(change.itemId);
      else items.set(change.itemId, change.item);
    }
    cursor = page.nextModseq;
    if (!page.more) break;
  }
  return items;
}

/**
 * `count` copies of an existing item into `folderId`, in one statement, each with its own id, modseq and
 * subject `${prefix}${n}` (n from 1): what `count` createItem calls would leave, minus their time. The copies
 * share the original's MIME and bodies.
 */
export async function cloneItems(
  database: Database,
  user: UserId,
  template: StoredItem,
  folderId: FolderId,
  count: number,
  prefix: string,
): Promise<void> {
  await database.query(
    `WITH u AS (
       UPDATE easkit_mailbox_users SET modseq = modseq + $4 WHERE id = $1 RETURNING modseq - $4 AS base
     ), t AS (
       SELECT * FROM easkit_mailbox_items WHERE user_id = $1 AND id = $2
     )
     INSERT INTO easkit_mailbox_items (user_id, id, folder_id, class, added_modseq, modseq, data, mime,
       body_plain, body_html, body_native, subject, received_at, read, flag_status, message_class,
       window_end_ms, complete)
     SELECT t.user_id, nextval('easkit_mailbox_ids'), $3, t.class, u.base + n, u.base + n,
       jsonb_set(t.data, '{subject}', to_jsonb($5 || n)), t.mime, t.body_plain, t.body_html, t.body_native,
       $5 || n, t.received_at, t.read, t.flag_status, t.message_class, t.window_end_ms, t.complete
       FROM u, t, generate_series(1, $4::int) AS n`,
    [user, template.id.slice(1), folderId.slice(1), count, prefix],
  );
}
