import { strict as assert } from 'node:assert';
import { runDeviceStoreConformance } from '@easkit/policy/conformance';
import { afterAll, describe, it } from 'vitest';
import { cleanPrefix, connect, redisAvailable, testPrefix } from '../test/redis.js';
import { RedisDeviceStore } from './device-store.js';

const available = await redisAvailable();
const client = available ? connect() : undefined;
const prefix = testPrefix('device-store');
let checks = 0;

afterAll(async () => {
  if (!client) return;
  await cleanPrefix(client, prefix);
  client.disconnect();
});

describe.skipIf(!available)('RedisDeviceStore', () => {
  runDeviceStoreConformance({
    name: 'RedisDeviceStore',
    create: () => new RedisDeviceStore({ client: client!, keyPrefix: `${prefix}${checks++}:` }),
  });

  it('forgets a device not seen for deviceTtlMs; listings skip it and the sweep drops its index entry', async () => {
    const store = new RedisDeviceStore({ client: client!, keyPrefix: `${prefix}ttl:`, deviceTtlMs: 60_000 });
    await store.upsertDevice({ user: 'alice', deviceId: 'old', deviceType: 'iPhone' });
    await store.upsertDevice({ user: 'alice', deviceId: 'new', deviceType: 'iPhone' });
    const key = `${prefix}ttl:device{"alice"}"old"`;
    const ttl = await client!.pttl(key);
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
    // Other writes keep the expiry the last sighting set.
    await store.recordSync('alice', 'old', { command: 'Sync', at: new Date() });
    assert.ok((await client!.pttl(key)) > 0);
    await client!.pexpire(key, 1); // what Redis does once the time is up
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await store.getDevice('alice', 'old'), null);
    assert.deepEqual(
      (await store.listDevices('alice')).map((device) => device.deviceId),
      ['new'],
    );
    assert.deepEqual(
      (await store.listAllDevices()).devices.map((device) => device.deviceId),
      ['new'],
    );
    assert.equal(await store.sweepDeviceIndex(), 1);
    assert.equal(await store.sweepDeviceIndex(), 0);
  });
});
