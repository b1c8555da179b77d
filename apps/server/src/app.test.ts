import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const MOBILESYNC_REQUEST = (email: string, schema: string) =>
  `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">
  <Request>
    <EMailAddress>${email}</EMailAddress>
    <AcceptableResponseSchema>${schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
const MOBILESYNC = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const OUTLOOK = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';

describe('the assembled server', () => {
  let app: EasApp;

  beforeAll(async () => {
    app = await startApp(
      configFromEnv({ EASKIT_PORT: '0', EASKIT_DEMO_PASSWORD: 'pw', EASKIT_STORAGE: 'memory' }),
      pino({ level: 'silent' }),
    );
    await app.stores.mailbox.createUser({
      id: 'carol@easkit.test',
      primarySmtpAddress: 'carol@easkit.test',
      aliases: ['c.jones@other.example'],
      displayName: 'Carol <Jones> & Co',
    });
  });
  afterAll(() => app.close());

  const post = (path: string, body: string, authorization?: string) =>
    fetch(`${app.running.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml', ...(authorization ? { Authorization: authorization } : {}) },
      body,
    });

  describe('Autodiscover (POX, mobilesync)', () => {
    it('answers the EAS URL for the authenticated user, matching the path in any letter case', async () => {
      for (const path of [
        '/autodiscover/autodiscover.xml',
        '/Autodiscover/Autodiscover.xml',
        '/AUTODISCOVER/AUTODISCOVER.XML',
      ]) {
        const response = await post(
          path,
          MOBILESYNC_REQUEST('demo@easkit.test', MOBILESYNC),
          basic('demo@easkit.test', 'pw'),
        );
        expect(response.status, path).toBe(200);
        const text = await response.text();
        expect(text).toContain('<Type>MobileSync</Type>');
        expect(text).toContain(`<Url>${app.running.url}/Microsoft-Server-ActiveSync</Url>`);
        expect(text).toContain('<EMailAddress>demo@easkit.test</EMailAddress>');
      }
    });

    it('asks for credentials first', async () => {
      const response = await post(
        '/autodiscover/autodiscover.xml',
        MOBILESYNC_REQUEST('demo@easkit.test', MOBILESYNC),
      );
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('answers an empty body from the authenticated user (an alias login), escaping every value', async () => {
      await app.passwords.setPassword('carol@easkit.test', 'secret');
      const response = await post(
        '/autodiscover/autodiscover.xml',
        '',
        basic('c.jones@other.example', 'secret'),
      );
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain('<EMailAddress>carol@easkit.test</EMailAddress>');
      expect(text).toContain('<DisplayName>Carol &#60;Jones&#62; &#38; Co</DisplayName>');
    });

    it('gives error 601 for the Outlook schema and 600 for a request it cannot read', async () => {
      const outlook = await (
        await post(
          '/autodiscover/autodiscover.xml',
          MOBILESYNC_REQUEST('demo@easkit.test', OUTLOOK),
          basic('demo', 'pw'),
        )
      ).text();
      expect(outlook).toContain('<ErrorCode>601</ErrorCode>');
      const garbage = await (
        await post('/autodiscover/autodiscover.xml', '<<<not xml', basic('demo', 'pw'))
      ).text();
      expect(garbage).toContain('<ErrorCode>600</ErrorCode>');
      const get = await fetch(`${app.running.url}/autodiscover/autodiscover.xml`, {
        headers: { Authorization: basic('demo', 'pw') },
      });
      expect(await get.text()).toContain('<ErrorCode>600</ErrorCode>');
    });

    it('refuses oversized bodies unread', async () => {
      const response = await post('/autodiscover/autodiscover.xml', 'x'.repeat(200_000), basic('demo', 'pw'));
      expect(response.status).toBe(413);
    });
  });

  describe('Autodiscover (JSON v2)', () => {
    it('answers the ActiveSync URL in both the query and the path form', async () => {
      const query = await fetch(
        `${app.running.url}/autodiscover/autodiscover.json?Email=demo%40easkit.test&Protocol=ActiveSync`,
      );
      expect(query.status).toBe(200);
      expect(await query.json()).toEqual({
        Protocol: 'ActiveSync',
        Url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      });
      const path = await fetch(
        `${app.running.url}/Autodiscover/Autodiscover.json/v1.0/demo@easkit.test?Protocol=activesync`,
      );
      expect(await path.json()).toMatchObject({ Protocol: 'ActiveSync' });
    });

    it('refuses other protocols and missing addresses', async () => {
      const rest = await fetch(`${app.running.url}/autodiscover/autodiscover.json?Email=a@b.c&Protocol=Rest`);
      expect(rest.status).toBe(400);
      expect(await rest.json()).toMatchObject({ ErrorCode: 'InvalidProtocol' });
      const none = await fetch(
        `${app.running.url}/autodiscover/autodiscover.json/v1.0/%E0%A4%A?Protocol=ActiveSync`,
      );
      expect(none.status).toBe(400);
    });
  });

  describe('logins', () => {
    const options = (user: string, password: string, deviceId: string) =>
      fetch(
        `${app.running.url}/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=${user}&DeviceId=${deviceId}&DeviceType=iPhone`,
        {
          method: 'OPTIONS',
          headers: { Authorization: basic(user, password) },
        },
      );

    it('accepts an alias in another domain as the login name', async () => {
      await app.passwords.setPassword('carol@easkit.test', 'secret');
      expect((await options('c.jones@other.example', 'secret', 'alias-phone')).status).toBe(200);
      expect((await options('EASKIT\\carol', 'secret', 'alias-phone')).status).toBe(200);
      expect((await options('carol@easkit.test', 'secret', 'alias-phone')).status).toBe(200);
    });

    it('locks one account name on one device after repeated failures, and not the same name elsewhere', async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        expect((await options('demo', 'wrong', 'thief')).status).toBe(401);
      }
      // Locked: even the right password is refused on that device now.
      expect((await options('demo', 'pw', 'thief')).status).toBe(401);
      expect((await options('demo', 'pw', 'owner-phone')).status).toBe(200);
      const metrics = await (await fetch(`${app.running.url}/metrics`)).text();
      expect(metrics).toMatch(/easkit_logins_total\{outcome="locked"\} [1-9]/);
    });

    it('locks unknown accounts the same way (nothing tells which accounts exist)', async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        expect((await options('ghost', 'x', 'thief')).status).toBe(401);
      }
    });
  });

  describe('health and metrics', () => {
    it('answers /healthz and /readyz', async () => {
      expect((await fetch(`${app.running.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${app.running.url}/readyz`)).status).toBe(200);
    });

    it('serves Prometheus metrics, every series prefixed easkit_', async () => {
      await fetch(`${app.running.url}/Microsoft-Server-ActiveSync`, {
        method: 'OPTIONS',
        headers: { Authorization: basic('demo', 'pw') },
      });
      const response = await fetch(`${app.running.url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await response.text();
      expect(text).toMatch(/easkit_requests_total\{command="OPTIONS",status="200"\} \d+/);
      expect(text).toContain('easkit_request_duration_seconds_bucket');
      expect(text).toContain('easkit_waiting_requests 0');
      const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((match) => match[1]);
      expect(names.length).toBeGreaterThan(5);
      for (const name of names) expect(name).toMatch(/^easkit_/);
    });
  });
});
