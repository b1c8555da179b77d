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
