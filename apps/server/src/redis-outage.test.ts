import { Redis } from 'ioredis';
import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxDevice, pingInbox, untilWaiting } from '../test/inbox-device.js';
import { freshDatabaseUrl, postgresAvailable, redisAvailable } from '../test/postgres.js';
import { PrivateRedis } from '../test/private-redis.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

/** Two instances on PostgreSQL and a private Redis that goes away and comes back while Pings wait. */
describe.runIf((await postgresAvailable()) && (await redisAvailable()))(
  'Redis outages under waiting Pings',
  () => {
    const apps: EasApp[] = [];
    let redis: PrivateRedis;

    beforeAll(async () => {
      redis = await PrivateRedis.start();
      const databaseUrl = await freshDatabaseUrl('server_redis_outage');
      for (let index = 0; index < 2; index++) {
        apps.push(
          await startApp(
            configFromEnv({
              EASKIT_PORT: '0',
              DATABASE_URL: databaseUrl,
              REDIS_URL: redis.url,
              EASKIT_REDIS_PREFIX: 'outage:',
              EASKIT_DEMO_PASSWORD: 'pw',
              ...(index === 0 ? { EASKIT_MAIL_IN_PORT: '0' } : {}),
            }),
            pino({ level: 'silent' }),
          ),
        );
      }
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await redis.stop();
    });

    const waitingDevice = (app: EasApp, deviceId: string) =>
      inboxDevice(app.running.url, 'demo', 'pw', deviceId);
    const ping = pingInbox;
    const waiting = (app: EasApp, count: number) => untilWaiting(app.running.url, count);

    const deliver = (subject: string) =>
      createTransport({ host: '127.0.0.1', port: apps[0]!.mailIn!.port, ignoreTLS: true }).sendMail({
        envelope: { from: 'a@remote.test', to: ['demo@easkit.test'] },
        raw: `From: a@remote.test\r\nTo: demo@easkit.test\r\nSubject: ${subject}\r\n\r\nx\r\n`,
      });

    it('a Ping on instance 2 still wakes for mail delivered through instance 1 while Redis was down', async () => {
      const { device, inbox } = await waitingDevice(apps[1]!, 'outage-phone');
      const answer = ping(device, inbox);
      await waiting(apps[1]!, 1);
      await redis.stop();
      await deliver('during the outage');
      await redis.start();
      // After the reconnect every waiter re-reads the store and finds the message delivered in the gap.
      expect((await answer).body?.intOf('Status')).toBe(2);
    });

    it('Pings wake after the subscriber connections are killed with CLIENT KILL', async () => {
      const { device, inbox } = await waitingDevice(apps[1]!, 'kill-phone');
      const answer = ping(device, inbox);
      await waiting(apps[1]!, 1);
      const admin = new Redis(redis.url);
      try {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      } finally {
        admin.disconnect();
      }
      await deliver('after CLIENT KILL');
      expect((await answer).body?.intOf('Status')).toBe(2);
    });
  },
);
