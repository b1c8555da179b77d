import { eas } from '@easkit/wbxml';
import { createTransport } from 'nodemailer';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { freshDatabaseUrl, postgresAvailable } from '../test/postgres.js';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';
import { folderIdsByType, syncOnce } from '../test/sync-client.js';

const { AirSync: AS, Contacts: C, Ping: P } = eas;
const USER = 'demo@easkit.test';
const PASSWORD = 'instances-pw';

/**
 * Two built servers (`dist/main.js`) on one PostgreSQL database and no Redis, as behind a load balancer: the
 * only path between them is the database, so a wake-up has to travel through LISTEN/NOTIFY.
 */
describe.runIf(await postgresAvailable())('two instances on one PostgreSQL database, without Redis', () => {
  let databaseUrl: string;
  let mailPort: number;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    databaseUrl = await freshDatabaseUrl('server_pg_instances');
    mailPort = await freePort();
    const env = { DATABASE_URL: databaseUrl, EASKIT_DEMO_PASSWORD: PASSWORD };
    // One after the other; starting together is the next test's subject.
    a = await startServerProcess({ ...env, EASKIT_MAIL_IN_PORT: String(mailPort) });
    b = await startServerProcess(env);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  /** A device on `server` that has synced `folderType` to the end; returns it with the collection and key. */
  async function syncedDevice(server: ServerProcess, deviceId: string, folderType: number) {
    const device = new TestDevice(server.url, USER, PASSWORD, deviceId);
    await device.provision();
    const collectionId = (await folderIdsByType(device)).get(folderType)!;
    let key = (await syncOnce(device, '0', collectionId)).syncKey;
    for (let more = true; more; ) {
      const page = await syncOnce(device, key, collectionId, { windowSize: 100 });
      key = page.syncKey;
      more = page.moreAvailable;
    }
    return { device, collectionId, key };
  }

  function ping(device: TestDevice, collectionId: string, folderClass: string) {
    return device.send(
      'Ping',
      P.Ping(P.HeartbeatInterval(300), P.Folders(P.Folder(P.Id(collectionId), P.Class(folderClass)))),
    );
  }

  /** Resolves once `server` holds `count` waiting requests (its /metrics), so the wake-up cannot come early. */
  async function waiting(server: ServerProcess, count: number): Promise<void> {
    for (;;) {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      if (Number(/^easkit_waiting_requests (\d+)/m.exec(text)?.[1]) >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('both answer for the one demo account on the one schema', async () => {
    const folders: string[][] = [];
    for (const server of [a, b]) {
      const device = new TestDevice(server.url, USER, PASSWORD, `probe-${server.pid}`);
      await device.provision();
      folders.push([...(await folderIdsByType(device)).values()].sort());
    }
    expect(folders[0]!.length).toBeGreaterThan(5);
    expect(folders[1]).toEqual(folders[0]);
  });

  // Before 8a73ac1 the demo account was check-then-create in startApp, and about every other pair started
  // together lost the race (ConflictError, exit 1); so the pair is started several times.
  it('two instances started together on an empty database both come up', async () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const url = await freshDatabaseUrl('server_pg_instances_race');
      const env = { DATABASE_URL: url, EASKIT_DEMO_PASSWORD: PASSWORD };
      const started = await Promise.allSettled([startServerProcess(env), startServerProcess(env)]);
      for (const result of started) if (result.status === 'fulfilled') await result.value.stop();
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }, 60_000);

  it('mail delivered over SMTP to instance A wakes a Ping waiting on instance B', async () => {
    const { device, collectionId, key } = await syncedDevice(b, 'ping-on-b', 2);
    const answer = ping(device, collectionId, 'Email');
    await waiting(b, 1);
    const transport = createTransport({ host: '127.0.0.1', port: mailPort, ignoreTLS: true });
    await transport.sendMail({
      envelope: { from: 'sender@remote.test', to: [USER] },
      raw: `From: sender@remote.test\r\nTo: ${USER}\r\nSubject: through A\r\n\r\nhello B\r\n`,
    });
    const reply = await answer;
    expect(reply.body?.intOf('Status')).toBe(2);
    expect(reply.body?.require('Folders').textOf('Folder')).toBe(collectionId);
    const page = await syncOnce(device, key, collectionId);
    expect(page.adds.map((add) => add.data?.textOf('Subject'))).toEqual(['through A']);
  });

  it("a contact added by one device's Sync on A wakes another device's Ping on B", async () => {
    const phone = await syncedDevice(a, 'adds-on-a', 9);
    const tablet = await syncedDevice(b, 'pings-on-b', 9);
    const answer = ping(tablet.device, tablet.collectionId, 'Contacts');
    await waiting(b, 1);
    const added = await syncOnce(phone.device, phone.key, phone.collectionId, {
      commands: [AS.Add(AS.ClientId('c1'), AS.ApplicationData(C.FirstName('Ada'), C.LastName('Lovelace')))],
    });
    expect(added.responses).toMatchObject([{ kind: 'Add', clientId: 'c1', status: 1 }]);
    const reply = await answer;
    expect(reply.body?.intOf('Status')).toBe(2);
    const page = await syncOnce(tablet.device, tablet.key, tablet.collectionId);
    expect(page.adds.map((add) => add.data?.textOf('LastName'))).toEqual(['Lovelace']);
  });

  it("B's LISTEN connection killed by the database: mail delivered through A while it is gone still wakes B's Ping", async () => {
    const { device, collectionId } = await syncedDevice(b, 'ping-across-reconnect', 2);
    const answer = ping(device, collectionId, 'Email');
    await waiting(b, 1);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      // Every listening backend (A's and B's): each instance has to come back on its own.
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
      );
      expect(killed.rowCount).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.end();
    }
    const transport = createTransport({ host: '127.0.0.1', port: mailPort, ignoreTLS: true });
    await transport.sendMail({
      envelope: { from: 'sender@remote.test', to: [USER] },
      raw: `From: sender@remote.test\r\nTo: ${USER}\r\nSubject: during the gap\r\n\r\nstill there\r\n`,
    });
    const reply = await answer;
    expect(reply.body?.intOf('Status')).toBe(2);
    expect(b.output()).toContain('push LISTEN connection lost');
  });
});
