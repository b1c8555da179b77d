import type { CollectionState } from '@easkit/sync-state';
import { runSyncStateConformance } from '@easkit/sync-state/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { PgSyncStateStore } from './sync-state-store.js';

/** Every check starts from an empty table: the checks of one suite run one after the other on one database. */
function suite(name: string, open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => target?.close());
  runSyncStateConformance({
    name,
    create: async () => {
      await target.database.query('DELETE FROM easkit_sync_states');
      return new PgSyncStateStore({ database: target.database });
    },
  });

  it('keeps strings jsonb would refuse or change: NUL, lone surrogates, key order', async () => {
    const store = new PgSyncStateStore({ database: target.database });
    const key = { user: 'nul@example.com', deviceId: 'D', collectionId: '1' };
    const state: CollectionState = {
      confirmed: { syncKey: 'e-1', cursor: 3, meta: { z: 1, a: 'x\u0000y', '\ud800': '\udfff' } },
      pending: null,
      options: { text: '\u0000\u0000', empty: '' },
    };
    expect(await store.compareAndSet(key, null, state)).toBe(true);
    const read = await store.get(key);
    expect(read).toEqual(state);
    expect(Object.keys(read?.confirmed.meta ?? {})).toEqual(['z', 'a', '\ud800']);
  });

  it('refuses a state that is not JSON-able with a TypeError and writes nothing', async () => {
    const store = new PgSyncStateStore({ database: target.database });
    const key = { user: 'bytes@example.com', deviceId: 'D', collectionId: '1' };
    const bad = {
      confirmed: { syncKey: 'e-1', cursor: 1 },
      pending: null,
      options: { raw: new Uint8Array(2) },
    };
    await expect(store.compareAndSet(key, null, bad as unknown as CollectionState)).rejects.toThrow(
      TypeError,
    );
    expect(await store.get(key)).toBeNull();
  });
}

describe('on PGlite', () => suite('PgSyncStateStore on PGlite', () => freshPGlite()));

describe.runIf(await postgresAvailable())('on PostgreSQL', () =>
  suite('PgSyncStateStore on PostgreSQL', () => freshPostgres('sync_state')),
);
