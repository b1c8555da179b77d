import { eas } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const { FolderHierarchy: FH } = eas;
const TOKEN = 'admin-token-for-tests-0123456789';

describe('the admin API and the policy gate', () => {
  let app: EasApp;
  const admin = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const response = await fetch(`${app.running.url}/admin/v1${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        'X-Easkit-Actor': 'ops@example.com',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_DEMO: 'false',
        EASKIT_STORAGE: 'memory',
        EASKIT_ADMIN_TOKEN: TOKEN,
      }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => app.close());

  it('refuses requests without the bearer token', async () => {
    expect((await admin('GET', '/devices', undefined, 'wrong-token-wrong-token-0000')).status).toBe(401);
    const bare = await fetch(`${app.running.url}/admin/v1/devices`);
    expect(bare.status).toBe(401);
  });

  it('creates a user with the default folders, who must provision before FolderSync', async () => {
    const created = await admin('POST', '/users', {
      address: 'erin@example.com',
      displayName: 'Erin',
      aliases: ['e@example.org'],
      password: 'erin-password',
    });
    expect(created.status).toBe(200);
    expect(created.json.user).toMatchObject({ id: 'erin@example.com', aliases: ['e@example.org'] });
    expect((await admin('POST', '/users', { address: 'erin@example.com' })).status).toBe(409);
    const aliased = await admin('PUT', '/users/erin%40example.com', {
      aliases: ['e@example.org', 'erin@example.net'],
    });
    expect(aliased.json.user.aliases).toEqual(['e@example.org', 'erin@example.net']);
    expect((await admin('PUT', '/users/erin%40example.com', { aliases: ['not an address'] })).status).toBe(
      400,
    );
    expect((await admin('POST', '/users', { address: 'not an address' })).status).toBe(400);

    const phone = new TestDevice(app.running.url, 'e@example.org', 'erin-password', 'erin-phone');
    const refused = await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(refused.body?.intOf('Status')).toBe(142);
    await phone.provision();
    const hierarchy = await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(hierarchy.body?.intOf('Status')).toBe(1);
    expect(hierarchy.body?.require('Changes').all('Add').length).toBeGreaterThan(5);
  });

  it('lists devices with their condition and request log, wipes one and records who did it', async () => {
    const list = await admin('GET', '/devices?user=erin%40example.com');
    expect(list.json.devices).toHaveLength(1);
    expect(list.json.devices[0]).toMatchObject({ deviceId: 'erin-phone', condition: 'active' });
    const log = await admin('GET', '/devices/erin%40example.com/erin-phone/log');
    expect(log.json.requests.at(-1)).toMatchObject({ command: 'FolderSync', httpStatus: 200 });
    expect(log.json.requests.at(-1).bytesOut).toBeGreaterThan(50);
    expect(log.json.requests.map((entry: { command: string }) => entry.command)).toEqual([
      'FolderSync',
      'Provision',
      'Provision',
      'FolderSync',
    ]);

    const wiped = await admin('POST', '/devices/erin%40example.com/erin-phone/wipe');
    expect(wiped.json.device.wipe.state).toBe('requested');
    const phone = new TestDevice(app.running.url, 'erin@example.com', 'erin-password', 'erin-phone');
    phone.policyKey = list.json.devices[0].policyKey.toString();
    const blocked = await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(blocked.body?.intOf('Status')).toBe(140);
    expect(await phone.acknowledgeWipe()).toBe(true);
    const after = await admin('GET', '/devices/erin%40example.com/erin-phone');
    expect(after.json.device.condition).toBe('wiped');
    expect(after.json.device.wipe.acknowledgedAt).toBeTruthy();

    const audit = await admin('GET', '/audit?user=erin%40example.com');
    expect(audit.json.entries[0]).toMatchObject({ actor: 'ops@example.com' });
    expect(JSON.stringify(audit.json.entries)).toContain('wipe');
  });

  it('switches EAS off for a user, sets policies and rules, and answers bad input with 400/404', async () => {
    expect((await admin('PUT', '/users/erin%40example.com/eas', { enabled: false })).status).toBe(204);
    const policy = await admin('PUT', '/policies/strict', {
      name: 'Strict',
      settings: { minDevicePasswordLength: 8 },
    });
    expect(policy.status).toBe(200);
    expect(policy.json.policy).toMatchObject({ id: 'strict', version: 1 });
    expect(
      (await admin('PUT', '/policies/bad', { name: 'Bad', settings: { minDevicePasswordLength: 'x' } }))
        .status,
    ).toBe(400);
    expect((await admin('PUT', '/default-policy', { policyId: 'strict' })).status).toBe(204);
    const rule = await admin('PUT', '/rules/block-old', {
      match: { userAgent: 'OldMail/*' },
      action: 'block',
      priority: 10,
    });
    expect(rule.json.rule).toMatchObject({ id: 'block-old', action: 'block' });
    expect((await admin('GET', '/rules')).json.rules).toHaveLength(1);
    expect((await admin('DELETE', '/rules/none')).status).toBe(404);
    expect((await admin('GET', '/devices/erin%40example.com/nothing')).status).toBe(404);
    expect((await admin('POST', '/devices/erin%40example.com/erin-phone/explode')).status).toBe(404);
    expect((await admin('PUT', '/eas', { enabled: 'yes' })).status).toBe(400);
    const garbage = await fetch(`${app.running.url}/admin/v1/users`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: '{not json',
    });
    expect(garbage.status).toBe(400);
  });

  it('removes a device together with its sync state', async () => {
    expect((await admin('DELETE', '/devices/erin%40example.com/erin-phone')).status).toBe(204);
    expect((await admin('GET', '/devices?user=erin%40example.com')).json.devices).toEqual([]);
  });
});
