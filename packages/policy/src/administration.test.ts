import { describe, expect, it } from 'vitest';
import { createDeviceAdministration, deviceCondition } from './administration.js';
import { MemoryDeviceStore } from './memory.js';
import { policySettings } from './settings.js';

const ALICE = 'alice@example.com';
const T0 = new Date('2026-04-01T10:00:00Z');

async function setup() {
  let minutes = 0;
  const now = () => new Date(T0.getTime() + minutes++ * 60_000);
  const devices = new MemoryDeviceStore({ now });
  const admin = createDeviceAdministration({ devices, now });
  await devices.upsertDevice({
    user: ALICE,
    deviceId: 'PHONE',
    deviceType: 'iPhone',
    protocolVersion: '16.1',
  });
  await devices.upsertDevice({ user: ALICE, deviceId: 'TABLET', deviceType: 'iPad' });
  return { devices, admin };
}

describe('createDeviceAdministration', () => {
  it('lists devices with their condition and last sync, per user or all', async () => {
    const { devices, admin } = await setup();
    await devices.updateDevice(ALICE, 'PHONE', { policyKey: 77, policyState: 'provisioned' });
    await devices.recordSync(ALICE, 'PHONE', { command: 'Sync', at: T0 });
    const mine = await admin.listDevices({ user: ALICE });
    expect(mine.devices.map((device) => [device.deviceId, device.condition])).toEqual([
      ['PHONE', 'active'],
      ['TABLET', 'not-provisioned'],
    ]);
    expect(mine.devices[0]?.stats.lastSyncAt).toEqual(T0);
    const all = await admin.listDevices({ limit: 1 });
    expect(all.devices).toHaveLength(1);
    expect(all.nextCursor).not.toBeNull();
    expect(await admin.getDevice(ALICE, 'nope')).toBeNull();
  });

  it('records every action in the audit log with who, what, when and target', async () => {
    const { admin } = await setup();
    const root = admin.as('root');
    await root.quarantine(ALICE, 'TABLET', 'new tablet');
    const approved = await root.approve(ALICE, 'TABLET');
    expect(approved.access).toMatchObject({ state: 'allowed', reason: 'individual', by: 'root' });
    await root.block(ALICE, 'PHONE', 'lost');
    await root.wipe(ALICE, 'PHONE');
    await root.putPolicy({ id: 'staff', name: 'Staff', settings: policySettings({ allowCamera: false }) });
    await root.setUserPolicy(ALICE, 'staff');
    await root.setDefaultPolicy('staff');
    await root.setUserEasEnabled(ALICE, false);
    await root.setEasEnabled(false);
    await root.setDefaultAccess('quarantined');
    await root.putRule({ id: 'no-android', priority: 1, action: 'block', match: { deviceType: 'Android' } });
    await root.deleteRule('no-android');
    expect(await root.remove(ALICE, 'TABLET')).toBe(true);
    const log = await admin.auditLog({ limit: 100 });
    expect(log.entries.map((entry) => entry.action).reverse()).toEqual([
      'quarantine',
      'approve',
      'block',
      'wipe',
      'put-policy',
      'set-user-policy',
      'set-default-policy',
      'set-user-eas',
      'set-eas',
      'set-default-access',
      'put-rule',
      'delete-rule',
      'remove-device',
    ]);
    for (const entry of log.entries) expect(entry.actor).toBe('root');
    const block = log.entries.find((entry) => entry.action === 'block');
    expect(block?.target).toEqual({ user: ALICE, deviceId: 'PHONE' });
    expect(block?.details).toMatchObject({ from: 'allowed', to: 'blocked', note: 'lost' });
    expect(block?.at.getTime()).toBeGreaterThan(T0.getTime());
    expect((await admin.auditLog({ user: ALICE, deviceId: 'TABLET' })).entries).toHaveLength(3);
  });

  it('wipes, shows the wipe in the condition, and clearing it makes the device start over', async () => {
    const { devices, admin } = await setup();
    await devices.updateDevice(ALICE, 'PHONE', {
      policyKey: 5,
      policyState: 'provisioned',
      policyVersion: { policyId: null, version: 1 },
    });
    const wiped = await admin.as('root').accountOnlyWipe(ALICE, 'PHONE');
    expect(wiped.wipe).toMatchObject({ state: 'requested', kind: 'account-only', requestedBy: 'root' });
    expect(deviceCondition(wiped)).toBe('wipe-requested');
    await devices.updateDevice(ALICE, 'PHONE', { wipe: { ...wiped.wipe, state: 'acknowledged' } });
    expect((await admin.getDevice(ALICE, 'PHONE'))?.condition).toBe('wiped');
    const cleared = await admin.as('root').clearWipe(ALICE, 'PHONE');
    expect(cleared.wipe).toEqual({ state: 'none' });
    expect(cleared.policyKey).toBe(0);
    expect(cleared.policyVersion).toBeUndefined();
  });

  it('refuses actions on unknown devices and an empty actor, recording nothing', async () => {
    const { admin } = await setup();
    await expect(admin.as('root').wipe(ALICE, 'GHOST')).rejects.toMatchObject({ code: 'device-not-found' });
    expect(() => admin.as(' ')).toThrow(/actor/);
    expect(await admin.as('root').remove(ALICE, 'GHOST')).toBe(false);
    expect((await admin.auditLog()).entries).toEqual([]);
  });
});
