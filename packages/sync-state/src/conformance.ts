import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import { type CollectionKey, HIERARCHY } from './collection.js';
import type { CollectionState } from './state.js';
import type { SyncStateStore } from './store.js';

/**
 * What a backend may not support. A check that needs a capability the backend lacks is registered as
 * skipped, with the capability in its title. (Checks of an optional method, such as `getMany`, need no
 * capability: they are skipped when they find the store without the method.)
 *
 * - `'largeState'`: states of about 1 MB (10,000 known ids, 10,000 sent changes, a 256 KiB response
 *   snapshot) round-trip. Backends with a small value limit switch it off.
 */
export type SyncStateCapability = 'largeState';

/** What a check gets: a fresh, empty store from the factory. */
export interface SyncStateCheckContext {
  store: SyncStateStore;
}

/** The optional methods of `SyncStateStore`; checks of one run only against stores that have it. */
export type SyncStateOptionalMethod = 'getMany';

/** One behavioural check of the contract. `run` rejects (an `AssertionError`) when the store is wrong. */
export interface ConformanceCheck {
  name: string;
  capability?: SyncStateCapability;
  /** The optional method the check is about; `run` expects the store to have it. */
  method?: SyncStateOptionalMethod;
  run(ctx: SyncStateCheckContext): Promise<void>;
}

/** Options of {@link runSyncStateConformance}. */
export interface SyncStateConformanceOptions {
  /** Names the `describe` block, e.g. `'PgSyncStateStore'`. */
  name: string;
  /** A fresh, empty store for every check (a new key prefix, schema or database). */
  create: () => SyncStateStore | Promise<SyncStateStore>;
  /** What the backend supports; every capability is assumed unless set to `false`. */
  capabilities?: Partial<Record<SyncStateCapability, boolean>>;
  /** Called after every check with the store `create` returned (close clients, drop the prefix). */
  cleanup?: (store: SyncStateStore) => void | Promise<void>;
}

const PARALLEL = 16;
const alice: CollectionKey = { user: 'alice@example.com', deviceId: 'ApplDMPX1', collectionId: '5' };

function keyOf(overrides: Partial<CollectionKey> = {}): CollectionKey {
  return { ...alice, ...overrides };
}

/** A state whose newest key is `pendingKey` (or `confirmedKey` when `pendingKey` is null). */
function stateOf(confirmedKey: string, pendingKey: string | null, marker = 'm'): CollectionState {
  return {
    confirmed: { syncKey: confirmedKey, cursor: 10 },
    pending:
      pendingKey === null
        ? null
        : {
            syncKey: pendingKey,
            sent: [{ id: `item-${marker}`, kind: 'add' }],
            clientAdds: { [`client-${marker}`]: `server-${marker}` },
            cursor: 20,
          },
    options: { marker },
  };
}

/** A state that uses every part of the model, with values a careless serializer would change. */
function richState(): CollectionState {
  const clientAdds: Record<string, string> = JSON.parse('{"__proto__":"s-proto","c:1":"s/1","":"s-empty"}');
  return {
    confirmed: {
      syncKey: 'k7m2q9x4c8va-41',
      cursor: 9_007_199_254_740_991,
      known: ['1:1', '1:2', 'ä/ß', '😀', ''],
      meta: { folderTypes: { '1': 2, '2': 3 }, nested: [[], {}, [null, true, false]], dot: { 'a.b': 'c' } },
    },
    pending: {
      syncKey: 'k7m2q9x4c8va-42',
      sent: [
        { id: '1:3', kind: 'add' },
        { id: '1:2', kind: 'change' },
        { id: '1:1', kind: 'delete' },
        { id: '1:0', kind: 'soft-delete' },
      ],
      clientAdds,
      removedByClient: ['1:9'],
      cursor: 9_007_199_254_740_991,
      meta: { version: 2, ratio: 0.125, negative: -3, zero: 0, text: 'line\nbreak\t"quoted"\u0001' },
      response: {
        status: 1,
        moreAvailable: true,
        body: 'AwFqAAAAS1JfQ==',
        list: [1, 'two', null, { three: [3] }],
        unicode: '\u{1F4E7} \u00e9\u4e2d\u6587 \u202e',
      },
    },
    options: {
      filterType: 3,
      bodyPreference: [{ type: 2, truncationSize: 51200 }],
      conflict: 1,
      mimeSupport: 0,
    },
  };
}

async function expectState(
  store: SyncStateStore,
  key: CollectionKey,
  expected: CollectionState | null,
  what: string,
) {
  assert.deepStrictEqual(await store.get(key), expected, what);
}

async function expectWins(
  store: SyncStateStore,
  key: CollectionKey,
  expected: string | null,
  next: CollectionState,
) {
  assert.equal(
    await store.compareAndSet(key, expected, next),
    true,
    `compareAndSet expecting ${expected} must win`,
  );
}

async function expectLoses(
  store: SyncStateStore,
  key: CollectionKey,
  expected: string | null,
  next: CollectionState,
) {
  const before = await store.get(key);
  assert.equal(
    await store.compareAndSet(key, expected, next),
    false,
    `compareAndSet expecting ${expected} must lose`,
  );
  assert.deepStrictEqual(
    await store.get(key),
    before,
    `a lost compareAndSet (expecting ${expected}) changed state`,
  );
}

/** The store's `getMany`; an `AssertionError` when it has none (the runner does not run such checks then). */
function getManyOf(store: SyncStateStore): NonNullable<SyncStateStore['getMany']> {
  const { getMany } = store;
  assert.equal(typeof getMany, 'function', 'the store has no getMany');
  return (keys) => getMany!.call(store, keys);
}

/** `getMany(keys)`, checked to answer an array with one entry per key. */
async function readMany(store: SyncStateStore, keys: readonly CollectionKey[]) {
  const states = await getManyOf(store)(keys);
  assert.ok(Array.isArray(states), 'getMany must resolve to an array');
  assert.equal(states.length, keys.length, 'getMany must answer one entry per key');
  return states;
}

/** Every check of the `SyncStateStore` contract. */
export const syncStateChecks: ConformanceCheck[] = [
  {
    name: 'get returns null for a collection without state',
    async run({ store }) {
      assert.strictEqual(await store.get(alice), null);
      assert.deepStrictEqual(await store.listCollections(alice.user, alice.deviceId), []);
    },
  },
  {
    name: 'compareAndSet with null creates the state and get returns it',
    async run({ store }) {
      const state = stateOf('e-1', 'e-2');
      await expectWins(store, alice, null, state);
      await expectState(store, alice, stateOf('e-1', 'e-2'), 'created state');
    },
  },
  {
    name: 'every part of a state round-trips exactly',
    async run({ store }) {
      await expectWins(store, alice, null, richState());
      await expectState(store, alice, richState(), 'rich state');
      const bare: CollectionState = { confirmed: { syncKey: '0', cursor: 0 }, pending: null, options: null };
      await expectWins(store, keyOf({ collectionId: HIERARCHY }), null, bare);
      await expectState(store, keyOf({ collectionId: HIERARCHY }), structuredClone(bare), 'bare state');
    },
  },
  {
    name: 'compareAndSet with null loses when a state exists and leaves it unchanged',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', null));
      await expectLoses(store, alice, null, stateOf('x-1', 'x-2', 'other'));
      await expectState(store, alice, stateOf('e-1', null), 'state after losing');
    },
  },
  {
    name: 'compareAndSet expecting the pending key replaces the state',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', 'e-2', 'a'));
      await expectWins(store, alice, 'e-2', stateOf('e-2', 'e-3', 'b'));
      await expectState(store, alice, stateOf('e-2', 'e-3', 'b'), 'replaced state');
    },
  },
  {
    name: 'compareAndSet expecting the confirmed key replaces a state without pending part',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-4', null, 'a'));
      await expectWins(store, alice, 'e-4', stateOf('e-4', 'e-5', 'b'));
      await expectState(store, alice, stateOf('e-4', 'e-5', 'b'), 'replaced state');
    },
  },
  {
    name: 'compareAndSet expecting the confirmed key loses while a pending part exists',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', 'e-2', 'a'));
      await expectLoses(store, alice, 'e-1', stateOf('e-1', 'e-3', 'b'));
      await expectState(store, alice, stateOf('e-1', 'e-2', 'a'), 'state after losing');
    },
  },
  {
    name: 'compareAndSet with a wrong key loses and leaves the state unchanged',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-6', 'e-7', 'a'));
      for (const wrong of ['e-5', 'e-8', 'f-7', '0', '', 'E-7', ' e-7']) {
        await expectLoses(store, alice, wrong, stateOf('z-1', 'z-2', wrong));
      }
      await expectState(store, alice, stateOf('e-6', 'e-7', 'a'), 'state after wrong keys');
    },
  },
  {
    name: 'compareAndSet with a key on a missing state loses and creates nothing',
    async run({ store }) {
      assert.equal(await store.compareAndSet(alice, 'e-1', stateOf('e-1', 'e-2')), false);
      assert.strictEqual(await store.get(alice), null);
      assert.deepStrictEqual(await store.listCollections(alice.user, alice.deviceId), []);
    },
  },
  {
    name: 'states are copied in and out',
    async run({ store }) {
      const written = stateOf('e-1', 'e-2', 'a');
      await expectWins(store, alice, null, written);
      written.confirmed.cursor = 999;
      written.pending!.clientAdds.injected = 'x';
      written.options = { changed: true };
      const read = await store.get(alice);
      assert.ok(read !== null);
      read.pending!.sent.push({ id: 'extra', kind: 'add' });
      read.confirmed.syncKey = 'mutated-1';
      await expectState(store, alice, stateOf('e-1', 'e-2', 'a'), 'state after mutating copies');
    },
  },
  {
    name: 'users are isolated',
    async run({ store }) {
      const bob = keyOf({ user: 'bob@example.com' });
      await expectWins(store, alice, null, stateOf('a-1', null, 'alice'));
      await expectWins(store, bob, null, stateOf('b-1', null, 'bob'));
      await expectLoses(store, bob, 'a-1', stateOf('a-2', null, 'bad'));
      await expectWins(store, alice, 'a-1', stateOf('a-1', 'a-2', 'alice2'));
      await expectState(store, bob, stateOf('b-1', null, 'bob'), "bob's state");
      assert.equal(await store.delete(bob), true);
      await expectState(store, alice, stateOf('a-1', 'a-2', 'alice2'), "alice's state after deleting bob's");
    },
  },
  {
    name: 'devices are isolated',
    async run({ store }) {
      const tablet = keyOf({ deviceId: 'SEC0TABLET' });
      await expectWins(store, alice, null, stateOf('p-1', null, 'phone'));
      await expectWins(store, tablet, null, stateOf('t-1', null, 'tablet'));
      await expectLoses(store, tablet, 'p-1', stateOf('p-2', null, 'bad'));
      await expectWins(store, tablet, 't-1', stateOf('t-1', 't-2', 'tablet2'));
      await expectState(store, alice, stateOf('p-1', null, 'phone'), "the phone's state");
      await expectState(store, tablet, stateOf('t-1', 't-2', 'tablet2'), "the tablet's state");
    },
  },
  {
    name: 'collections are isolated, the hierarchy included',
    async run({ store }) {
      const hierarchy = keyOf({ collectionId: HIERARCHY });
      const calendar = keyOf({ collectionId: '6' });
      await expectWins(store, hierarchy, null, stateOf('h-1', 'h-2', 'hierarchy'));
      await expectWins(store, alice, null, stateOf('m-1', null, 'mail'));
      await expectLoses(store, calendar, 'm-1', stateOf('c-1', null, 'bad'));
      assert.strictEqual(await store.get(calendar), null);
      await expectWins(store, alice, 'm-1', stateOf('m-1', 'm-2', 'mail2'));
      await expectState(store, hierarchy, stateOf('h-1', 'h-2', 'hierarchy'), "the hierarchy's state");
    },
  },
  {
    name: 'key parts containing separators do not collide',
    async run({ store }) {
      const keys: CollectionKey[] = [
        { user: 'a:b', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b:c', collectionId: 'd' },
        { user: 'a', deviceId: 'b', collectionId: 'c:d' },
        { user: 'a/b', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b/c', collectionId: 'd' },
        { user: 'a|b', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b|c', collectionId: 'd' },
        { user: 'a\tb', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b\tc', collectionId: 'd' },
        { user: 'a', deviceId: 'b', collectionId: 'c\u001fd' },
        { user: 'a"', deviceId: '",', collectionId: 'd' },
        { user: 'a', deviceId: '","', collectionId: 'd' },
        { user: 'A:B', deviceId: 'c', collectionId: 'd' },
      ];
      for (const [index, key] of keys.entries()) {
        await expectWins(store, key, null, stateOf(`k${index}-1`, null, `key${index}`));
      }
      for (const [index, key] of keys.entries()) {
        await expectState(
          store,
          key,
          stateOf(`k${index}-1`, null, `key${index}`),
          `state of ${JSON.stringify(key)}`,
        );
      }
      assert.deepStrictEqual([...(await store.listCollections('a', 'b'))].sort(), ['c\u001fd', 'c:d']);
      assert.equal(await store.deleteDevice('a', 'b:c'), 1);
      assert.notStrictEqual(
        await store.get(keys[0]!),
        null,
        'deleting device "b:c" of "a" removed device "c" of "a:b"',
      );
    },
  },
  {
    name: 'delete removes one collection and says whether it existed',
    async run({ store }) {
      const calendar = keyOf({ collectionId: '6' });
      await expectWins(store, alice, null, stateOf('m-1', null, 'mail'));
      await expectWins(store, calendar, null, stateOf('c-1', null, 'calendar'));
      assert.equal(await store.delete(alice), true);
      assert.strictEqual(await store.get(alice), null);
      await expectState(store, calendar, stateOf('c-1', null, 'calendar'), 'the other collection');
      assert.equal(await store.delete(alice), false);
      assert.equal(await store.delete(keyOf({ user: 'nobody' })), false);
      assert.deepStrictEqual(await store.listCollections(alice.user, alice.deviceId), ['6']);
    },
  },
  {
    name: 'a deleted collection starts again from null and its old key is gone',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', 'e-2', 'old'));
      await store.delete(alice);
      assert.equal(await store.compareAndSet(alice, 'e-2', stateOf('e-2', 'e-3')), false);
      await expectWins(store, alice, null, stateOf('f-1', null, 'new'));
      await expectState(store, alice, stateOf('f-1', null, 'new'), 'recreated state');
    },
  },
  {
    name: 'deleteDevice removes every collection of that device only',
    async run({ store }) {
      const collections = [HIERARCHY, '1', '2', '3'];
      const tablet = 'SEC0TABLET';
      for (const collectionId of collections) {
        await expectWins(store, keyOf({ collectionId }), null, stateOf('p-1', null, collectionId));
        await expectWins(
          store,
          keyOf({ collectionId, deviceId: tablet }),
          null,
          stateOf('t-1', null, collectionId),
        );
        await expectWins(
          store,
          keyOf({ collectionId, user: 'bob' }),
          null,
          stateOf('b-1', null, collectionId),
        );
      }
      assert.equal(await store.deleteDevice(alice.user, alice.deviceId), collections.length);
      for (const collectionId of collections) {
        assert.strictEqual(
          await store.get(keyOf({ collectionId })),
          null,
          `collection ${collectionId} survived`,
        );
        await expectState(
          store,
          keyOf({ collectionId, deviceId: tablet }),
          stateOf('t-1', null, collectionId),
          'tablet',
        );
        await expectState(
          store,
          keyOf({ collectionId, user: 'bob' }),
          stateOf('b-1', null, collectionId),
          "bob's device",
        );
      }
      assert.deepStrictEqual(await store.listCollections(alice.user, alice.deviceId), []);
      assert.equal(await store.deleteDevice(alice.user, alice.deviceId), 0);
      await expectWins(store, alice, null, stateOf('n-1', null, 'new'));
    },
  },
  {
    name: 'listCollections lists the collections of one device, the hierarchy included',
    async run({ store }) {
      for (const collectionId of ['7', HIERARCHY, '12']) {
        await expectWins(store, keyOf({ collectionId }), null, stateOf('e-1', null, collectionId));
      }
      await expectWins(store, keyOf({ deviceId: 'other', collectionId: '99' }), null, stateOf('o-1', null));
      await expectWins(store, keyOf({ user: 'bob', collectionId: '98' }), null, stateOf('b-1', null));
      const listed = await store.listCollections(alice.user, alice.deviceId);
      assert.deepStrictEqual([...listed].sort(), ['#hierarchy', '12', '7']);
      assert.deepStrictEqual(await store.listCollections(alice.user, 'unknown'), []);
      assert.deepStrictEqual(await store.listCollections('nobody', alice.deviceId), []);
    },
  },
  {
    name: 'concurrent compareAndSet calls expecting the same key: exactly one wins',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', 'e-2', 'base'));
      const nexts = Array.from({ length: PARALLEL }, (_, index) =>
        stateOf('e-2', `e-3x${index}`, `racer${index}`),
      );
      const results = await Promise.all(nexts.map((next) => store.compareAndSet(alice, 'e-2', next)));
      const winners = results.flatMap((won, index) => (won ? [index] : []));
      assert.equal(winners.length, 1, `expected exactly one winner, got ${winners.length}`);
      await expectState(store, alice, nexts[winners[0]!]!, "the winner's state");
    },
  },
  {
    name: 'concurrent creation from null: exactly one wins',
    async run({ store }) {
      const nexts = Array.from({ length: PARALLEL }, (_, index) =>
        stateOf('0', `n${index}-1`, `racer${index}`),
      );
      const results = await Promise.all(nexts.map((next) => store.compareAndSet(alice, null, next)));
      const winners = results.flatMap((won, index) => (won ? [index] : []));
      assert.equal(winners.length, 1, `expected exactly one winner, got ${winners.length}`);
      await expectState(store, alice, nexts[winners[0]!]!, "the winner's state");
    },
  },
  {
    name: 'concurrent writes to different collections of one device all land',
    async run({ store }) {
      const ids = Array.from({ length: PARALLEL }, (_, index) => `folder-${index}`);
      const results = await Promise.all(
        ids.map((collectionId) =>
          store.compareAndSet(keyOf({ collectionId }), null, stateOf('e-1', null, collectionId)),
        ),
      );
      assert.deepStrictEqual(
        results,
        ids.map(() => true),
      );
      assert.deepStrictEqual(
        [...(await store.listCollections(alice.user, alice.deviceId))].sort(),
        [...ids].sort(),
      );
      for (const collectionId of ids) {
        await expectState(store, keyOf({ collectionId }), stateOf('e-1', null, collectionId), collectionId);
      }
    },
  },
  {
    name: 'a chain of writes follows the newest key',
    async run({ store }) {
      let expected: string | null = null;
      for (let step = 1; step <= 6; step++) {
        // Alternate states with and without a pending part, as confirm-only and issue-next writes do.
        const next =
          step % 2 === 0
            ? stateOf(`e-${step}`, null, `s${step}`)
            : stateOf(`e-${step - 1}`, `e-${step}`, `s${step}`);
        await expectWins(store, alice, expected, next);
        if (expected !== null)
          await expectLoses(store, alice, expected === `e-${step}` ? 'stale' : expected, next);
        expected = `e-${step}`;
      }
      await expectState(store, alice, stateOf('e-6', null, 's6'), 'end of the chain');
    },
  },
  {
    name: 'a large state round-trips',
    capability: 'largeState',
    async run({ store }) {
      const large = stateOf('e-1', 'e-2', 'large');
      large.confirmed.known = Array.from({ length: 10_000 }, (_, index) => `1:${index}`);
      large.pending!.sent = Array.from({ length: 10_000 }, (_, index) => ({
        id: `1:${index}`,
        kind: 'change' as const,
      }));
      large.pending!.response = 'A'.repeat(256 * 1024);
      await expectWins(store, alice, null, large);
      assert.deepStrictEqual(await store.get(alice), structuredClone(large));
    },
  },
  {
    name: 'getMany answers in the order of the keys',
    method: 'getMany',
    async run({ store }) {
      const ids = ['1', '2', '3', '4', HIERARCHY];
      for (const collectionId of ids) {
        await expectWins(
          store,
          keyOf({ collectionId }),
          null,
          stateOf(`${collectionId}-1`, null, collectionId),
        );
      }
      for (const order of [[4, 0, 3, 1, 2], [2, 4, 1, 0, 3], [0, 1, 2, 3, 4].reverse()]) {
        const keys = order.map((index) => keyOf({ collectionId: ids[index]! }));
        assert.deepStrictEqual(
          await readMany(store, keys),
          order.map((index) => stateOf(`${ids[index]}-1`, null, ids[index])),
          `getMany of collections ${order.map((index) => ids[index]).join(', ')}`,
        );
      }
    },
  },
  {
    name: 'getMany answers a key named more than once at every position',
    method: 'getMany',
    async run({ store }) {
      const calendar = keyOf({ collectionId: '6' });
      await expectWins(store, alice, null, stateOf('m-1', 'm-2', 'mail'));
      await expectWins(store, calendar, null, stateOf('c-1', null, 'calendar'));
      const missing = keyOf({ collectionId: '7' });
      const keys = [alice, calendar, alice, missing, alice, missing, calendar];
      const expected = keys.map((key) =>
        key === alice
          ? stateOf('m-1', 'm-2', 'mail')
          : key === calendar
            ? stateOf('c-1', null, 'calendar')
            : null,
      );
      assert.deepStrictEqual(await readMany(store, keys), expected);
    },
  },
  {
    name: 'getMany answers null for keys without a state, a deleted one included',
    method: 'getMany',
    async run({ store }) {
      const deleted = keyOf({ collectionId: '8' });
      await expectWins(store, alice, null, stateOf('e-1', null, 'kept'));
      await expectWins(store, deleted, null, stateOf('d-1', null, 'deleted'));
      assert.equal(await store.delete(deleted), true);
      const keys = [
        keyOf({ collectionId: 'never' }),
        deleted,
        alice,
        keyOf({ user: 'nobody' }),
        keyOf({ deviceId: 'unknown' }),
      ];
      assert.deepStrictEqual(await readMany(store, keys), [
        null,
        null,
        stateOf('e-1', null, 'kept'),
        null,
        null,
      ]);
      assert.deepStrictEqual(await readMany(store, [keyOf({ collectionId: 'never' })]), [null]);
    },
  },
  {
    name: 'getMany keeps users, devices and collections apart, whatever characters the keys contain',
    method: 'getMany',
    async run({ store }) {
      const keys: CollectionKey[] = [
        alice,
        keyOf({ user: 'bob@example.com' }),
        keyOf({ deviceId: 'SEC0TABLET' }),
        keyOf({ collectionId: HIERARCHY }),
        { user: 'a:b', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b:c', collectionId: 'd' },
        { user: 'a', deviceId: 'b', collectionId: 'c:d' },
        { user: 'a,b', deviceId: 'c', collectionId: 'd' },
        { user: 'a', deviceId: 'b,c', collectionId: 'd' },
        { user: 'a"', deviceId: '",', collectionId: 'd' },
        { user: 'a', deviceId: '","', collectionId: 'd' },
        { user: '{a}', deviceId: '{b}', collectionId: '{c}' },
        { user: 'a\\', deviceId: 'b', collectionId: 'd' },
        { user: 'A:B', deviceId: 'c', collectionId: 'd' },
        { user: 'ä😀', deviceId: '\t', collectionId: ' ' },
      ];
      // Every other key gets a state, so a store that confuses two keys answers a wrong state or a wrong null.
      const written = keys.map((_, index) =>
        index % 2 === 0 ? stateOf(`k${index}-1`, null, `key${index}`) : null,
      );
      for (const [index, key] of keys.entries()) {
        const state = written[index];
        if (state) await expectWins(store, key, null, state);
      }
      assert.deepStrictEqual(await readMany(store, keys), written, 'all keys at once');
      const mixed = [...keys].reverse();
      assert.deepStrictEqual(await readMany(store, mixed), [...written].reverse(), 'all keys, reversed');
      for (const [index, key] of keys.entries()) {
        assert.deepStrictEqual(
          await readMany(store, [key]),
          [written[index]],
          `alone: ${JSON.stringify(key)}`,
        );
      }
    },
  },
  {
    name: 'getMany hands out copies: changing them changes neither the store nor each other',
    method: 'getMany',
    async run({ store }) {
      await expectWins(store, alice, null, stateOf('e-1', 'e-2', 'a'));
      const first = await readMany(store, [alice, alice]);
      assert.ok(first[0] && first[1], 'both entries hold the state');
      assert.notStrictEqual(first[0], first[1], 'a key named twice must give two copies');
      first[0].confirmed.cursor = 999;
      first[0].pending!.sent.push({ id: 'extra', kind: 'add' });
      first[0].pending!.clientAdds.injected = 'x';
      first[0].options = { changed: true };
      assert.deepStrictEqual(first[1], stateOf('e-1', 'e-2', 'a'), 'the other copy changed');
      assert.deepStrictEqual(
        await readMany(store, [alice]),
        [stateOf('e-1', 'e-2', 'a')],
        'getMany after mutating',
      );
      await expectState(store, alice, stateOf('e-1', 'e-2', 'a'), 'get after mutating what getMany returned');
      const read = await store.get(alice);
      read!.confirmed.syncKey = 'mutated-1';
      assert.deepStrictEqual(
        await readMany(store, [alice]),
        [stateOf('e-1', 'e-2', 'a')],
        'after mutating get',
      );
    },
  },
  {
    name: 'getMany with no keys answers an empty list',
    method: 'getMany',
    async run({ store }) {
      assert.deepStrictEqual(await getManyOf(store)([]), [], 'on an empty store');
      await expectWins(store, alice, null, stateOf('e-1', null));
      assert.deepStrictEqual(await getManyOf(store)([]), [], 'on a store with a state');
    },
  },
  {
    name: 'getMany agrees with get, every part of a state included',
    method: 'getMany',
    async run({ store }) {
      const hierarchy = keyOf({ collectionId: HIERARCHY });
      const bare: CollectionState = { confirmed: { syncKey: '0', cursor: 0 }, pending: null, options: null };
      await expectWins(store, alice, null, richState());
      await expectWins(store, hierarchy, null, bare);
      await expectWins(store, keyOf({ collectionId: '6' }), null, stateOf('c-1', 'c-2', 'calendar'));
      await expectWins(store, keyOf({ collectionId: '6' }), 'c-2', stateOf('c-2', null, 'calendar2'));
      const keys = [alice, hierarchy, keyOf({ collectionId: '6' }), keyOf({ collectionId: '7' })];
      const many = await readMany(store, keys);
      assert.deepStrictEqual(many, [
        richState(),
        structuredClone(bare),
        stateOf('c-2', null, 'calendar2'),
        null,
      ]);
      for (const [index, key] of keys.entries()) {
        assert.deepStrictEqual(many[index], await store.get(key), `getMany and get of ${key.collectionId}`);
      }
    },
  },
  {
    name: 'getMany reads 300 keys of several devices at once',
    method: 'getMany',
    async run({ store }) {
      const devices = ['phone', 'tablet', 'watch'];
      const keys = Array.from({ length: 300 }, (_, index) =>
        keyOf({ deviceId: devices[index % devices.length]!, collectionId: `f${index}` }),
      );
      // Two keys in three have a state, written a few at a time.
      const expected = keys.map((_, index) =>
        index % 3 === 2 ? null : stateOf(`b${index}-1`, null, `n${index}`),
      );
      for (let start = 0; start < keys.length; start += PARALLEL) {
        await Promise.all(
          keys.slice(start, start + PARALLEL).map(async (key, offset) => {
            const state = expected[start + offset];
            if (state) await expectWins(store, key, null, state);
          }),
        );
      }
      const states = await readMany(store, keys);
      for (const [index, key] of keys.entries()) {
        assert.deepStrictEqual(
          states[index],
          expected[index],
          `entry ${index} (${key.deviceId}/${key.collectionId})`,
        );
      }
      const shuffled = keys.map((_, index) => (index * 7) % keys.length);
      assert.deepStrictEqual(
        await readMany(
          store,
          shuffled.map((index) => keys[index]!),
        ),
        shuffled.map((index) => expected[index]),
        'the same keys in another order',
      );
    },
  },
];

/**
 * Registers the `SyncStateStore` conformance suite with vitest: one test per check, each against a fresh
 * store from `create`.
 *
 * ```ts
 * import { runSyncStateConformance } from '@easkit/sync-state/conformance';
 * runSyncStateConformance({ name: 'MyStore', create: () => new MyStore({ prefix: randomUUID() }) });
 * ```
 */
export function runSyncStateConformance(options: SyncStateConformanceOptions): void {
  describe(`SyncStateStore conformance: ${options.name}`, () => {
    for (const check of syncStateChecks) {
      const supported = check.capability === undefined || options.capabilities?.[check.capability] !== false;
      if (!supported) {
        it.skip(`${check.name} (needs capability '${check.capability}')`, () => {});
        continue;
      }
      it(check.name, async (context) => {
        const store = await options.create();
        try {
          // A check of an optional method the store does not have does not apply to it.
          if (check.method !== undefined && typeof store[check.method] !== 'function') {
            context.skip(`the store has no ${check.method}`);
          }
          await check.run({ store });
        } finally {
          await options.cleanup?.(store);
        }
      });
    }
  });
}
