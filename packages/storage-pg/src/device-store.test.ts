import { runDeviceStoreConformance } from '@easkit/policy/conformance';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { PgDeviceStore } from './device-store.js';

/** Empties every table of the device store, so each check starts from a fresh store on the file's database. */
async function reset(target: TestDatabase): Promise<void> {
  await target.database.exec(`
    DELETE FROM easkit_devices;
    DELETE FROM easkit_policy_assignments;
    UPDATE easkit_device_settings SET default_policy_id = NULL, eas_enabled = true, default_access = 'allowed';
    DELETE FROM easkit_policies;
    DELETE FROM easkit_user_eas;
    DELETE FROM easkit_access_rules;
    DELETE FROM easkit_audit_log;
  `);
}

function suite(name: string, open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => target?.close());
  runDeviceStoreConformance({
    name,
    create: async () => {
      await reset(target);
      return new PgDeviceStore({ database: target.database });
    },
  });

  it('writes a known device only when a sighting changes something or lastSeen is over 30 s old', async () => {
    await reset(target);
    const store = new PgDeviceStore({ database: target.database });
    const version = async () =>
      (
        await target.database.query<{ xmin: string; xmax: string }>(
          `SELECT xmin::text AS xmin, xmax::text AS xmax FROM easkit_devices WHERE user_id = 'w@x' AND device_id = 'D'`,
        )
      ).rows[0];
    const t0 = Date.parse('2026-03-01T08:00:00.000Z');
    const sighting = { user: 'w@x', deviceId: 'D', deviceType: 'iPhone', model: 'm1' };
    expect((await store.checkIn(sighting, new Date(t0))).created).toBe(true);
    const written = await version();
    // Within 30 s and nothing new: the row is read, not written or even locked.
    const quiet = await store.checkIn(sighting, new Date(t0 + 20_000));
    expect(quiet.created).toBe(false);
    expect(quiet.device.lastSeen.getTime()).toBe(t0);
    expect((await store.upsertDevice({ ...sighting, model: undefined }, new Date(t0 + 25_000))).created).toBe(
      false,
    );
    expect(await version()).toEqual(written);
    // A changed detail, or lastSeen 30 s behind, writes.
    expect((await store.checkIn({ ...sighting, model: 'm2' }, new Date(t0 + 26_000))).device.model).toBe(
      'm2',
    );
    const changed = await version();
    expect(changed).not.toEqual(written);
    const later = await store.checkIn({ ...sighting, model: 'm2' }, new Date(t0 + 60_000));
    expect(later.device.lastSeen.getTime()).toBe(t0 + 60_000);
    expect(await version()).not.toEqual(changed);
    expect(
      (await store.upsertDevice({ ...sighting, deviceType: 'iPad' }, new Date(t0 + 61_000))).device
        .deviceType,
    ).toBe('iPad');
  });

  it('keeps generated device details exactly, and refuses U+0000 before writing anything', async () => {
    await reset(target);
    const store = new PgDeviceStore({ database: target.database });
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .filter((value) => !value.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(text, text, text, text, async (user, deviceId, model, friendlyName) => {
        const at = new Date('2026-03-01T08:00:00.000Z');
        await store.upsertDevice({ user, deviceId, deviceType: 'Android', model, friendlyName }, at);
        const device = await store.getDevice(user, deviceId);
        expect(device).toMatchObject({ user, deviceId, model, friendlyName });
        expect((await store.listDevices(user)).map((each) => each.deviceId)).toContain(deviceId);
        await store.deleteDevice(user, deviceId);
      }),
      { numRuns: 40 },
    );
    for (const sighting of [
      { user: 'a\u0000b', deviceId: 'D1', deviceType: 'iPhone' },
      { user: 'alice', deviceId: 'D\u0000', deviceType: 'iPhone' },
      { user: 'alice', deviceId: 'D1', deviceType: 'iPhone', model: 'm\u0000' },
    ]) {
      await expect(store.upsertDevice(sighting)).rejects.toMatchObject({ code: 'invalid-argument' });
    }
    await store.upsertDevice({ user: 'alice', deviceId: 'D1', deviceType: 'iPhone' });
    await expect(store.updateDevice('alice', 'D1', { os: 'x\u0000', policyKey: 5 })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(
      store.appendAudit({ actor: 'admin', action: 'note', target: {}, details: { text: '\u0000' } }),
    ).rejects.toMatchObject({ code: 'invalid-argument' });
    expect((await store.listAllDevices()).devices.map((device) => [device.user, device.policyKey])).toEqual([
      ['alice', 0],
    ]);
  });
}

describe('on PGlite', () => suite('PgDeviceStore on PGlite', () => freshPGlite()));

describe.runIf(await postgresAvailable())('on PostgreSQL', () =>
  suite('PgDeviceStore on PostgreSQL', () => freshPostgres('device_store')),
);
