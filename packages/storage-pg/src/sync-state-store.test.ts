import { type CollectionState, jsonCopy } from '@easkit/sync-state';
import { runSyncStateConformance } from '@easkit/sync-state/conformance';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import type { SqlExecutor } from './database.js';
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

  it('round-trips generated states under generated keys, exactly and apart', async () => {
    const store = new PgSyncStateStore({ database: target.database });
    // Key parts come from the device's request: any text PostgreSQL can hold (no U+0000).
    const part = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((text) => !text.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(part, part, part), {
          minLength: 1,
          maxLength: 4,
          selector: (key) => JSON.stringify(key),
        }),
        fc.jsonValue({ maxDepth: 3 }),
        async (keys, payload) => {
          await target.database.query('DELETE FROM easkit_sync_states');
          const written = keys.map(([user, deviceId, collectionId], index) => ({
            key: { user, deviceId, collectionId },
            state: {
              confirmed: { syncKey: `e${index}-1`, cursor: index, meta: { payload } as never },
              pending: null,
              options: { index, payload } as never,
            } satisfies CollectionState,
          }));
          for (const { key, state } of written)
            expect(await store.compareAndSet(key, null, state)).toBe(true);
          const missing = { user: 'missing', deviceId: 'missing', collectionId: 'missing' };
          const many = await store.getMany([missing, ...written.map(({ key }) => key).reverse(), missing]);
          expect(JSON.stringify(many)).toBe(
            JSON.stringify([null, ...written.map(({ state }) => jsonCopy(state)).reverse(), null]),
          );
          for (const { key, state } of written) {
            // Compared as JSON text: key order and every string kept, -0 written as JSON writes it.
            expect(JSON.stringify(await store.get(key))).toBe(JSON.stringify(jsonCopy(state)));
            const listed = await store.listCollections(key.user, key.deviceId);
            const expected = written
              .filter((other) => other.key.user === key.user && other.key.deviceId === key.deviceId)
              .map((other) => other.key.collectionId);
            expect([...listed].sort()).toEqual([...expected].sort());
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('getMany reads any number of keys with one statement', async () => {
    const statements: string[] = [];
    const counting: SqlExecutor = {
      query: (text, params) => {
        statements.push(text);
        return target.database.query(text, params);
      },
      exec: (script) => target.database.exec(script),
    };
    const store = new PgSyncStateStore({ database: counting });
    const keys = Array.from({ length: 500 }, (_, index) => ({
      user: `u${index % 3}`,
      deviceId: 'D',
      collectionId: `${index % 250}`,
    }));
    const state = (index: number): CollectionState => ({
      confirmed: { syncKey: `e${index}-1`, cursor: index },
      pending: null,
      options: null,
    });
    for (let index = 0; index < 250; index += 2) await store.compareAndSet(keys[index]!, null, state(index));
    statements.length = 0;
    const states = await store.getMany(keys);
    expect(statements).toHaveLength(1);
    expect(states).toEqual(keys.map((_, index) => (index < 250 && index % 2 === 0 ? state(index) : null)));
    statements.length = 0;
    expect(await store.getMany([])).toEqual([]);
    expect(statements).toHaveLength(0);
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
