import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import { runDeviceStoreConformance } from './conformance.js';
import { MemoryDeviceStore } from './memory.js';
import { policySettings } from './settings.js';

runDeviceStoreConformance({ name: 'MemoryDeviceStore', create: () => new MemoryDeviceStore() });

describe('MemoryDeviceStore', () => {
  it('uses its clock for sightings without a time and for policy updates', async () => {
    const now = new Date('2026-05-05T05:05:05.000Z');
    const store = new MemoryDeviceStore({ now: () => now });
    const { device } = await store.upsertDevice({ user: 'a', deviceId: 'd', deviceType: 'iPhone' });
    assert.equal(device.firstSeen.getTime(), now.getTime());
    const policy = await store.putPolicy({ id: 'p', name: 'P', settings: policySettings() });
    assert.equal(policy.updatedAt.getTime(), now.getTime());
  });

  it('forgets a user with their last device', async () => {
    const store = new MemoryDeviceStore();
    await store.upsertDevice({ user: 'a', deviceId: 'd', deviceType: 'iPhone' });
    await store.deleteDevice('a', 'd');
    assert.deepEqual(await store.listAllDevices(), { devices: [], nextCursor: null });
  });
});
