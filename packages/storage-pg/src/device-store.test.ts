import { runDeviceStoreConformance } from '@easkit/policy/conformance';
import { afterAll, beforeAll, describe } from 'vitest';
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
}

describe('on PGlite', () => suite('PgDeviceStore on PGlite', () => freshPGlite()));

describe.runIf(await postgresAvailable())('on PostgreSQL', () =>
  suite('PgDeviceStore on PostgreSQL', () => freshPostgres('device_store')),
);
