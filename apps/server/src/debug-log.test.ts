import { eas } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const { FolderHierarchy: FH } = eas;
const TOKEN = 'debug-log-token-0123456789abcdef';

describe('the per-user debug switch', () => {
  let app: EasApp;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_STORAGE: 'memory',
        EASKIT_DEMO_PASSWORD: 'pw',
        EASKIT_ADMIN_TOKEN: TOKEN,
      }),
      pino({ base: undefined }, { write: (line: string) => lines.push(JSON.parse(line)) }),
    );
    await app.stores.mailbox.createUser({ id: 'kim@easkit.test', primarySmtpAddress: 'kim@easkit.test' });
    await app.passwords.setPassword('kim@easkit.test', 'kim-password');
  });
  afterAll(() => app.close());

  const setDebug = (user: string, enabled: boolean) =>
    fetch(`${app.running.url}/admin/v1/users/${encodeURIComponent(user)}/debug`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ enabled }),
    });

  it('logs decoded requests and responses of that user only, until it is switched off', async () => {
    expect((await setDebug('demo@easkit.test', true)).status).toBe(200);
    const demo = new TestDevice(app.running.url, 'demo', 'pw', 'debug-phone');
    await demo.provision();
    await demo.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    const kim = new TestDevice(app.running.url, 'kim@easkit.test', 'kim-password', 'kim-phone');
    await kim.provision();
    const debugLines = lines.filter((line) => line.msg === 'debug: full request and response');
    expect(debugLines.length).toBe(3);
    expect(debugLines.every((line) => line.user === 'demo@easkit.test')).toBe(true);
    expect(String(debugLines[2]!.request)).toContain('<SyncKey>0</SyncKey>');
    expect(String(debugLines[2]!.response)).toContain('<FolderSync');

    expect((await setDebug('demo@easkit.test', false)).status).toBe(200);
    await demo.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(lines.filter((line) => line.msg === 'debug: full request and response').length).toBe(3);
    expect((await setDebug('nobody@easkit.test', true)).status).toBe(404);
  });
});
