import type { UserId } from '@easkit/mailbox';
import {
  type CollectionId,
  type CollectionKey,
  type CollectionState,
  jsonCopy,
  latestSyncKey,
  type SyncStateStore,
} from '@easkit/sync-state';
import type { SqlExecutor } from './database.js';

export interface PgSyncStateStoreOptions {
  /** A `Database` (or any executor on a migrated schema: `migrate()` creates `easkit_sync_states`). */
  database: SqlExecutor;
}

/**
 * A `SyncStateStore` on PostgreSQL or PGlite, one row per collection in `easkit_sync_states` (migration
 * `0002_sync_state`).
 *
 * `getMany` reads any number of keys with one statement. `compareAndSet` is a single statement: an `INSERT ... ON CONFLICT DO NOTHING` when nothing may be stored yet,
 * otherwise an `UPDATE ... WHERE sync_key = $expected`. PostgreSQL re-checks that condition on the newest row
 * version when concurrent updates queue behind each other's row lock, so of any number of callers that expect
 * the same key exactly one changes the row, across every process on the database, at the default isolation
 * level and without an explicit transaction.
 */
export class PgSyncStateStore implements SyncStateStore {
  readonly #db: SqlExecutor;

  constructor(options: PgSyncStateStoreOptions) {
    this.#db = options.database;
  }

  async get(key: CollectionKey): Promise<CollectionState | null> {
    const result = await this.#db.query<{ state: string }>(
      `SELECT state FROM easkit_sync_states
        WHERE user_id = $1 AND device_id = $2 AND collection_id = $3`,
      [key.user, key.deviceId, key.collectionId],
    );
    const row = result.rows[0];
    return row === undefined ? null : (JSON.parse(row.state) as CollectionState);
  }

  /**
   * One statement for any number of keys: the keys go in as three parallel arrays, `unnest ... WITH ORDINALITY`
   * numbers them, and a left join on the primary key answers every position (a repeated key included) in order.
   */
  async getMany(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]> {
    if (keys.length === 0) return [];
    const result = await this.#db.query<{ state: string | null }>(
      `SELECT s.state
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(user_id, device_id, collection_id, n)
         LEFT JOIN easkit_sync_states s
           ON s.user_id = k.user_id AND s.device_id = k.device_id AND s.collection_id = k.collection_id
        ORDER BY k.n`,
      [keys.map((key) => key.user), keys.map((key) => key.deviceId), keys.map((key) => key.collectionId)],
    );
    if (result.rows.length !== keys.length) {
      throw new Error(`getMany: ${result.rows.length} rows for ${keys.length} keys`);
    }
    return result.rows.map((row) => (row.state === null ? null : (JSON.parse(row.state) as CollectionState)));
  }

  async compareAndSet(
    key: CollectionKey,
    expectedSyncKey: string | null,
    next: CollectionState,
  ): Promise<boolean> {
    // jsonCopy refuses what is not JSON-able (as the in-memory store does) before anything is written.
    const copy = jsonCopy(next);
    const text = JSON.stringify(copy);
    const newest = latestSyncKey(copy);
    const params = [key.user, key.deviceId, key.collectionId, newest, text];
    const result =
      expectedSyncKey === null
        ? await this.#db.query(
            `INSERT INTO easkit_sync_states (user_id, device_id, collection_id, sync_key, state)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, device_id, collection_id) DO NOTHING`,
            params,
          )
        : await this.#db.query(
            `UPDATE easkit_sync_states SET sync_key = $4, state = $5, updated_at = now()
              WHERE user_id = $1 AND device_id = $2 AND collection_id = $3 AND sync_key = $6`,
            [...params, expectedSyncKey],
          );
    return result.rowCount === 1;
  }

  async delete(key: CollectionKey): Promise<boolean> {
    const result = await this.#db.query(
      'DELETE FROM easkit_sync_states WHERE user_id = $1 AND device_id = $2 AND collection_id = $3',
      [key.user, key.deviceId, key.collectionId],
    );
    return result.rowCount > 0;
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<number> {
    const result = await this.#db.query(
      'DELETE FROM easkit_sync_states WHERE user_id = $1 AND device_id = $2',
      [user, deviceId],
    );
    return result.rowCount;
  }

  async listCollections(user: UserId, deviceId: string): Promise<CollectionId[]> {
    const result = await this.#db.query<{ collection_id: string }>(
      'SELECT collection_id FROM easkit_sync_states WHERE user_id = $1 AND device_id = $2',
      [user, deviceId],
    );
    return result.rows.map((row) => row.collection_id);
  }
}
