import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eas } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const { Search: S } = eas;

describe('the GAL of the reference server', () => {
  let app: EasApp;
  beforeAll(async () => {
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_STORAGE: 'pglite',
        EASKIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'easkit-gal-')),
        EASKIT_DEMO_PASSWORD: 'pw',
      }),
      pino({ level: 'silent' }),
    );
    await app.stores.mailbox.createUser({
      id: 'lena@easkit.test',
      primarySmtpAddress: 'lena@easkit.test',
      displayName: 'Lena Demir',
    });
  });
  afterAll(() => app.close());

  it('finds the server users by name prefix through Search (Store GAL)', async () => {
    const phone = new TestDevice(app.running.url, 'demo', 'pw', 'gal-phone');
    await phone.provision();
    const reply = await phone.send(
      'Search',
      S.Search(S.Store(S.Name('GAL'), S.Query('dem'), S.Options(S.Range('0-9')))),
    );
    const store = reply.body!.require('Response').require('Store');
    expect(store.intOf('Status')).toBe(1);
    const addresses = store
      .all('Result')
      .map((result) => result.child('Properties')?.textOf('EmailAddress'))
      .sort();
    expect(addresses).toEqual(['demo@easkit.test', 'lena@easkit.test']);
  });
});
