import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eas } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const run = promisify(execFile);
const TOKEN = 'cli-token-for-tests-0123456789ab';
const { FolderHierarchy: FH } = eas;

describe('easkit (the built admin CLI)', () => {
  let app: EasApp;
  const easkit = async (...args: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [join(import.meta.dirname, '../dist/cli.js'), ...args], {
        env: { ...process.env, EASKIT_URL: app.running.url, EASKIT_ADMIN_TOKEN: TOKEN },
      });
      return { code: 0, stdout, stderr: '' };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  beforeAll(async () => {
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_STORAGE: 'memory',
        EASKIT_DEMO: 'false',
        EASKIT_ADMIN_TOKEN: TOKEN,
      }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => app.close());

  it('adds a user, lists the device that signed in, wipes it, and shows the audit log', async () => {
    const added = await easkit(
      'users',
      'add',
      'gina@example.com',
      '--password',
      'gina-password',
      '--alias',
      'g@example.org',
    );
    expect(added).toMatchObject({ code: 0, stdout: 'created gina@example.com\n' });
    const phone = new TestDevice(app.running.url, 'g@example.org', 'gina-password', 'gina-phone');
    await phone.provision();
    expect((await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')))).body?.intOf('Status')).toBe(1);

    const listed = await easkit('devices', 'list', '--user', 'gina@example.com');
    expect(listed.stdout).toMatch(/gina@example\.com\s+gina-phone\s+iPhone .*active/);
    const wiped = await easkit(
      'devices',
      'wipe',
      'gina@example.com',
      'gina-phone',
      '--note',
      'lost on a train',
    );
    expect(wiped).toMatchObject({ code: 0, stdout: 'wipe: gina@example.com gina-phone\n' });
    expect((await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')))).body?.intOf('Status')).toBe(140);
    expect(await phone.acknowledgeWipe()).toBe(true);
    const json = JSON.parse(
      (await easkit('--json', 'devices', 'show', 'gina@example.com', 'gina-phone')).stdout,
    );
    expect(json.device.condition).toBe('wiped');
    const audit = await easkit('audit', '--user', 'gina@example.com');
    expect(audit.stdout).toMatch(/\(cli\)/);
    const log = await easkit('devices', 'log', 'gina@example.com', 'gina-phone');
    expect(log.stdout).toContain('Provision');
  });

  it('top shows waiting requests and request rates of each instance', async () => {
    const top = await easkit(
      'top',
      '--once',
      '--interval',
      '0.5',
      '--instance',
      app.running.url,
      'http://127.0.0.1:1',
    );
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/devices active \(5 min\): \d+\s+waiting: 0/);
    expect(top.stdout).toMatch(/http:\/\/127\.0\.0\.1:1\s+DOWN/);
    expect(top.stdout).toContain(`${app.running.url}  up`);
  });

  it('explains failures with exit code 1', async () => {
    const missing = await easkit('devices', 'show', 'nobody@example.com', 'x');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404/);
    const badState = await easkit('eas', 'maybe');
    expect(badState).toMatchObject({ code: 1 });
    expect(badState.stderr).toMatch(/on or off/);
  });
});
