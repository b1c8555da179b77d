import { strict as assert } from 'node:assert';
import type { FolderId } from '@easkit/mailbox';
import { runDeviceStoreConformance } from '@easkit/policy/conformance';
import { type PushBus, WaiterRegistry } from '@easkit/push';
import { runPushBusConformance } from '@easkit/push/conformance';
import { runSyncStateConformance } from '@easkit/sync-state/conformance';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { PrivateCluster, redisAvailable, until } from '../test/redis.js';
import { RedisCounters } from './counters.js';
import { RedisDeviceStore } from './device-store.js';
import { createRedisPushBus, type RedisPushBus } from './push-bus.js';
import { RedisSyncStateStore } from './sync-state-store.js';

// Everything again on a private three-node Redis Cluster: a script whose keys span two slots fails there with
// CROSSSLOT, and sharded pub/sub has to reach the node that owns each user's channel.
const available = await redisAvailable();
let cluster: PrivateCluster | undefined;
let client: Cluster | undefined;
const opened: Cluster[] = [];
let namespaces = 0;

beforeAll(async () => {
  if (!available) return;
  cluster = await PrivateCluster.start();
  client = cluster.connect();
}, 60_000);

afterAll(async () => {
  for (const each of opened) each.disconnect();
  client?.disconnect();
  await cluster?.stop();
});

function bus(
  keyPrefix: string,
  options: { onError?: Parameters<typeof createRedisPushBus>[0]['onError'] } = {},
) {
  const own = cluster!.connect();
  const subscriber = cluster!.connect({ shardedSubscribers: true });
  opened.push(own, subscriber);
  return createRedisPushBus({ client: own, subscriber, keyPrefix, ...options });
}

describe.skipIf(!available)('on a Redis Cluster', () => {
  runSyncStateConformance({
    name: 'RedisSyncStateStore (cluster)',
    create: () => new RedisSyncStateStore({ client: client!, keyPrefix: `s${namespaces++}:` }),
  });

  runDeviceStoreConformance({
    name: 'RedisDeviceStore (cluster)',
    create: () => new RedisDeviceStore({ client: client!, keyPrefix: `d${namespaces++}:` }),
  });

  const prefixes = new WeakMap<PushBus, string>();
  runPushBusConformance({
    name: 'RedisPushBus (cluster, sharded)',
    create: ({ onError }) => {
      const keyPrefix = `p${namespaces++}:`;
      const made = bus(keyPrefix, { onError });
      prefixes.set(made, keyPrefix);
      return made;
    },
    createPeer: (first) => bus(prefixes.get(first)!),
    capabilities: { immediateDelivery: false },
  });

  it('wakes and supersedes Pings across instances, and counts', async () => {
    const keyPrefix = `x${namespaces++}:`;
    const buses: RedisPushBus[] = [bus(keyPrefix), bus(keyPrefix)];
    const [one, two] = buses as [RedisPushBus, RedisPushBus];
    try {
      const changed = new Set<FolderId>();
      const wait = (registry: WaiterRegistry, user: string, deviceId: string) =>
        registry.wait({
          user,
          deviceId,
          folderIds: ['5'],
          heartbeatMs: 600_000,
          hasChanges: async () => (changed.has(`${user}/5`) ? ['5'] : []),
        });
      const registries = [
        new WaiterRegistry({ bus: one, claims: one }),
        new WaiterRegistry({ bus: two, claims: two }),
      ];
      // Users spread over the three nodes' slots.
      const users = Array.from({ length: 12 }, (_, index) => `user${index}@example.com`);
      const first = users.map((user) => wait(registries[0]!, user, 'phone'));
      await until(() => one.stats().claims === users.length, 'every claim on the first instance');
      const second = users.map((user) => wait(registries[1]!, user, 'phone'));
      for (const outcome of await Promise.all(first)) assert.deepEqual(outcome, { kind: 'superseded' });
      for (const user of users) {
        changed.add(`${user}/5`);
        await one.publish(user, ['5']);
      }
      for (const outcome of await Promise.all(second))
        assert.deepEqual(outcome, { kind: 'changed', folderIds: ['5'] });
      const counters = new RedisCounters({ client: client!, keyPrefix, lockout: { freeFailures: 1 } });
      await counters.loginFailed('alice', 'phone');
      assert.equal((await counters.loginFailed('alice', 'phone')).lockedForMs, 30_000);
      assert.equal((await counters.takeRequest('alice', 'phone')).allowed, true);
    } finally {
      for (const each of buses) await each.close();
    }
  });
});
