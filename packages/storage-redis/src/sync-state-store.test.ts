import { strict as assert } from 'node:assert';
import { runSyncStateConformance } from '@easkit/sync-state/conformance';
import { afterAll, describe, it } from 'vitest';
import { cleanPrefix, connect, redisAvailable, testPrefix } from '../test/redis.js';
import { RedisSyncStateStore } from './sync-state-store.js';

const available = await redisAvailable();
const client = available ? connect() : undefined;
const prefix = testPrefix('sync-state');
let checks = 0;

afterAll(async () => {
  if (!client) return;
  await cleanPrefix(client, prefix);
  client.disconnect();
});

describe.skipIf(!available)('RedisSyncStateStore', () => {
  runSyncStateConformance({
    name: 'RedisSyncStateStore',
    create: () => new RedisSyncStateStore({ client: client!, keyPrefix: `${prefix}${checks++}:` }),
  });

  it('two connections racing on one sync key: exactly one wins', async () => {
    const other = connect();
    try {
      const stores = [client!, other].map(
        (each) => new RedisSyncStateStore({ client: each, keyPrefix: `${prefix}race:` }),
      );
      const key = { user: 'alice@example.com', deviceId: 'dev', collectionId: '5' };
      const state = (syncKey: string) => ({
        confirmed: { syncKey, cursor: 0 },
        pending: null,
        options: null,
      });
      assert.equal(await stores[0]!.compareAndSet(key, null, state('e-1')), true);
      for (let round = 1; round <= 20; round++) {
        const results = await Promise.all(
          stores.map((store) => store.compareAndSet(key, `e-${round}`, state(`e-${round + 1}`))),
        );
        assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
      }
      assert.equal((await stores[1]!.get(key))?.confirmed.syncKey, 'e-21');
    } finally {
      other.disconnect();
    }
  });

  it('expires the states of a device after deviceTtlMs without writes', async () => {
    const store = new RedisSyncStateStore({
      client: client!,
      keyPrefix: `${prefix}ttl:`,
      deviceTtlMs: 60_000,
    });
    const key = { user: 'alice@example.com', deviceId: 'dev', collectionId: '5' };
    await store.compareAndSet(key, null, {
      confirmed: { syncKey: 'a-1', cursor: 0 },
      pending: null,
      options: null,
    });
    const keys = await client!.keys(`${prefix}ttl:*`);
    assert.equal(keys.length, 1);
    const ttl = await client!.pttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
  });

  it('getMany: one HMGET for the keys of one device, one pipeline for several devices', async () => {
    const calls: string[] = [];
    const counting = new Proxy(client!, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return value.apply(target, args);
        };
      },
    });
    const store = new RedisSyncStateStore({ client: counting, keyPrefix: `${prefix}many:` });
    const state = (syncKey: string) => ({ confirmed: { syncKey, cursor: 1 }, pending: null, options: null });
    const phone = (collectionId: string) => ({ user: 'alice@example.com', deviceId: 'phone', collectionId });
    await store.compareAndSet(phone('#ping'), null, state('p-1'));
    await store.compareAndSet(phone('5'), null, state('f-1'));
    await store.compareAndSet(
      { user: 'bob@example.com', deviceId: 'tab', collectionId: '5' },
      null,
      state('b-1'),
    );

    calls.length = 0;
    const one = await store.getMany([phone('#ping'), phone('#hierarchy'), phone('5'), phone('#ping')]);
    assert.deepEqual(calls, ['hmget']);
    assert.deepEqual(one, [state('p-1'), null, state('f-1'), state('p-1')]);

    calls.length = 0;
    const several = await store.getMany([
      phone('5'),
      { user: 'bob@example.com', deviceId: 'tab', collectionId: '5' },
      { user: 'alice@example.com', deviceId: 'other', collectionId: '5' },
    ]);
    assert.deepEqual(calls, ['pipeline']);
    assert.deepEqual(several, [state('f-1'), state('b-1'), null]);

    calls.length = 0;
    assert.deepEqual(await store.getMany([]), []);
    assert.deepEqual(calls, []);
  });

  it('refuses a key prefix with braces', () => {
    assert.throws(() => new RedisSyncStateStore({ client: client!, keyPrefix: 'a{b}' }), TypeError);
  });
});
