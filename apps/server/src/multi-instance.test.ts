import { randomUUID } from 'node:crypto';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { Redis } from 'ioredis';
import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { inboxDevice, pingInbox, untilWaiting } from '../test/inbox-device.js';
import { freshDatabaseUrl, postgresAvailable, redisAvailable, redisUrl } from '../test/postgres.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const { AirSync: AS } = eas;
const TOKEN = 'multi-instance-token-0123456789';

/** Three instances on one PostgreSQL database and one Redis (its own key prefix), as behind a load balancer. */
describe.runIf((await postgresAvailable()) && (await redisAvailable()))(
  'three instances on PostgreSQL and Redis',
  () => {
    const apps: EasApp[] = [];
    const keyPrefix = `easkit-test-server-${randomUUID()}:`;

    beforeAll(async () => {
      const databaseUrl = await freshDatabaseUrl('server_multi_instance');
      for (let index = 0; index < 3; index++) {
        apps.push(
          await startApp(
            configFromEnv({
              EASKIT_PORT: '0',
              DATABASE_URL: databaseUrl,
              REDIS_URL: redisUrl,
              EASKIT_SYNC_STATE: 'redis',
              EASKIT_REDIS_PREFIX: keyPrefix,
              EASKIT_DEMO_PASSWORD: 'pw',
              EASKIT_ADMIN_TOKEN: TOKEN,
              ...(index === 0 ? { EASKIT_MAIL_IN_PORT: '0' } : {}),
            }),
            pino({ level: 'silent' }),
          ),
        );
      }
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      const cleaner = new Redis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await cleaner.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      cleaner.disconnect();
    });

    const readyDevice = (app: EasApp, login: string, password: string, deviceId: string) =>
      inboxDevice(app.running.url, login, password, deviceId);
    const ping = pingInbox;
    const waitingOn = (app: EasApp, count: number) => untilWaiting(app.running.url, count);

    it('mail delivered through instance 1 wakes Pings waiting on instances 2 and 3 for that user only', async () => {
      const [one, two, three] = apps as [EasApp, EasApp, EasApp];
      const admin = (body: unknown) =>
        fetch(`${one.running.url}/admin/v1/users`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await admin({ address: 'hank@example.com', password: 'hank-password' })).status).toBe(200);

      const phone = await readyDevice(two, 'demo', 'pw', 'demo-phone');
      const tablet = await readyDevice(three, 'demo', 'pw', 'demo-tablet');
      const other = await readyDevice(three, 'hank@example.com', 'hank-password', 'hank-phone');
      const phonePing = ping(phone.device, phone.inbox);
      const tabletPing = ping(tablet.device, tablet.inbox);
      let otherAnswered = false;
      const otherPing = ping(other.device, other.inbox).then((reply) => {
        otherAnswered = true;
        return reply;
      });
      await waitingOn(two, 1);
      await waitingOn(three, 2);

      const transport = createTransport({ host: '127.0.0.1', port: one.mailIn!.port, ignoreTLS: true });
      await transport.sendMail({
        envelope: { from: 'boss@remote.test', to: ['demo@easkit.test'] },
        raw: 'From: boss@remote.test\r\nTo: demo@easkit.test\r\nSubject: Fan-out\r\n\r\nhello\r\n',
      });
      for (const reply of [await phonePing, await tabletPing]) {
        expect(reply.body?.intOf('Status')).toBe(2);
      }
      expect(otherAnswered).toBe(false);

      // The change is visible to a Sync on any instance.
      const synced = await phone.device.send(
        'Sync',
        AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(phone.key), AS.CollectionId(phone.inbox)))),
      );
      const adds = synced.body!.require('Collections').require('Collection').require('Commands').all('Add');
      expect(adds.map((add: WbxmlElement) => add.require('ApplicationData').textOf('Subject'))).toEqual([
        'Fan-out',
      ]);

      // A second Ping of hank's phone on instance 2 ends the one still waiting on instance 3 (Status 1).
      const otherOnTwo = new TestDevice(two.running.url, 'hank@example.com', 'hank-password', 'hank-phone');
      otherOnTwo.policyKey = other.device.policyKey;
      const second = ping(otherOnTwo, other.inbox);
      const first = await otherPing;
      expect(first.body?.intOf('Status')).toBe(1);
      await waitingOn(two, 1);
      await transport.sendMail({
        envelope: { from: 'boss@remote.test', to: ['hank@example.com'] },
        raw: 'From: boss@remote.test\r\nTo: hank@example.com\r\nSubject: For Hank\r\n\r\nhi\r\n',
      });
      expect((await second).body?.intOf('Status')).toBe(2);
    });

    it('two Syncs with the same key on two instances: exactly one gets the next key', async () => {
      const [one, two] = apps as [EasApp, EasApp];
      const { device, inbox, key } = await readyDevice(one, 'demo', 'pw', 'race-phone');
      const transport = createTransport({ host: '127.0.0.1', port: one.mailIn!.port, ignoreTLS: true });
      await transport.sendMail({
        envelope: { from: 'a@remote.test', to: ['demo@easkit.test'] },
        raw: 'Subject: race\r\n\r\nx\r\n',
      });
      const twin = new TestDevice(two.running.url, 'demo', 'pw', 'race-phone');
      twin.policyKey = device.policyKey;
      const request = AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox))));
      const replies = await Promise.all([device.send('Sync', request), twin.send('Sync', request)]);
      const keys = replies.map((reply) =>
        reply.body?.child('Collections')?.child('Collection')?.textOf('SyncKey'),
      );
      const statuses = replies.map((reply) =>
        reply.body?.child('Collections')?.child('Collection')?.intOf('Status'),
      );
      // Both may answer (a retried key gets the same result), but never two different next keys.
      const issued = new Set(keys.filter((value, index) => value !== undefined && statuses[index] === 1));
      expect(issued.size).toBe(1);
    });
  },
);
