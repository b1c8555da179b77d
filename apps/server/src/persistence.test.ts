import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eas } from '@easkit/wbxml';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { startApp } from './app.js';
import { configFromEnv } from './config.js';

const { FolderHierarchy: FH, Settings: ST } = eas;

describe('the default embedded store (PGlite in EASKIT_DATA_DIR)', () => {
  it('keeps users, passwords, devices and the demo password across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'easkit-persist-'));
    const env = { EASKIT_PORT: '0', EASKIT_DATA_DIR: dataDir };
    const first = await startApp(configFromEnv(env), pino({ level: 'silent' }));
    expect(first.stores.description).toContain('PGlite');
    const demoPassword = first.demo!.password!;
    expect(first.demo!.generated).toBe(true);
    await first.stores.mailbox.createUser({ id: 'ivy@example.com', primarySmtpAddress: 'ivy@example.com' });
    await first.passwords.setPassword('ivy@example.com', 'ivy-password');
    const phone = new TestDevice(first.running.url, 'demo', demoPassword, 'kept-phone');
    await phone.provision();
    const oofSet = await phone.send(
      'Settings',
      ST.Settings(
        ST.Oof(
          ST.Set(
            ST.OofState(1),
            ST.OofMessage(
              ST.AppliesToInternal(),
              ST.Enabled(1),
              ST.ReplyMessage('Back on Monday'),
              ST.BodyType('Text'),
            ),
          ),
        ),
      ),
    );
    expect(oofSet.body?.require('Oof').intOf('Status')).toBe(1);
    await first.close();

    const second = await startApp(configFromEnv(env), pino({ level: 'silent' }));
    try {
      expect(second.demo!.password).toBeUndefined();
      expect(await second.passwords.verify('ivy@example.com', 'ivy-password')).toBe(true);
      // The device keeps its policy key: no provisioning again after a restart.
      const again = new TestDevice(second.running.url, 'demo', demoPassword, 'kept-phone');
      again.policyKey = phone.policyKey;
      const hierarchy = await again.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
      expect(hierarchy.body?.intOf('Status')).toBe(1);
      // Out-of-office settings are kept too.
      const oof = await again.send('Settings', ST.Settings(ST.Oof(ST.Get(ST.BodyType('Text')))));
      const got = oof.body!.require('Oof').require('Get');
      expect(got.intOf('OofState')).toBe(1);
      expect(got.require('OofMessage').textOf('ReplyMessage')).toBe('Back on Monday');
    } finally {
      await second.close();
    }
  });
});
