import { randomUUID } from 'node:crypto';
import type { PushEvent } from '@easkit/push';
import { runPushBusConformance } from '@easkit/push/conformance';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { type Database, postgresDatabase } from './database.js';
import { PgMailboxStore } from './mailbox-store.js';
import {
  MAX_PUSH_PAYLOAD_BYTES,
  notifyPush,
  PgPushBus,
  pushPayload,
  setMailboxPushTrigger,
  userHash,
} from './push-bus.js';

/** A channel no other check listens on. */
function freshChannel(): string {
  return `easkit_push_${randomUUID().replaceAll('-', '')}`;
}

/** Waits for a condition, bounded; only a failing test ever reaches the bound. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function recorder() {
  const events: PushEvent[] = [];
  return {
    events,
    listener: (event: PushEvent) => {
      events.push(event);
    },
    folders: () => events.map((event) => [...event.folderIds]),
    hasMarker: (marker: string) => events.some((event) => event.folderIds[0] === marker),
  };
}

/** Checks every backend runs: payload limits, SQL-side wake-ups, transactions, malformed payloads. */
function behaviour(open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => target?.close());

  it('falls back to an empty folder list, then to a digest of the user, to stay under the NOTIFY limit', async () => {
    const bus = new PgPushBus({ database: target.database, channel: freshChannel() });
    try {
      const longUser = `${'x'.repeat(9000)}@example.com`;
      const alice = recorder();
      const long = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      await bus.subscribe(longUser, long.listener);
      const manyFolders = Array.from({ length: 2000 }, (_, index) => `folder-${index}`);
      await bus.publish('alice@example.com', manyFolders);
      await bus.publish(longUser, ['5']);
      await bus.publish('alice@example.com', ['marker']);
      await until(() => alice.hasMarker('marker') && long.events.length === 1, 'deliveries');
      expect(alice.folders()).toEqual([[], ['marker']]);
      expect(long.events).toEqual([{ user: longUser, folderIds: [] }]);
      for (const payload of [pushPayload('alice@example.com', manyFolders), pushPayload(longUser, [])]) {
        expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
      }
      expect(JSON.parse(pushPayload(longUser, ['1']))).toEqual({ h: userHash(longUser) });
    } finally {
      await bus.close();
    }
  });

  it('carries a modseq as "m", and reads one only when it is a non-negative integer', async () => {
    const channel = freshChannel();
    const bus = new PgPushBus({ database: target.database, channel });
    try {
      const alice = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      expect(JSON.parse(pushPayload('alice@example.com', ['1'], 7))).toEqual({
        u: 'alice@example.com',
        f: ['1'],
        m: 7,
      });
      expect(JSON.parse(pushPayload('alice@example.com', [], 7))).toEqual({ u: 'alice@example.com', f: [] });
      await bus.publish('alice@example.com', ['1'], 7);
      // Sent by other programs: an unusable "m" leaves the event without a modseq, never drops it.
      for (const m of ['"8"', '-1', '1.5', 'null']) {
        await target.database.query('SELECT pg_notify($1, $2)', [
          channel,
          `{"u":"alice@example.com","f":["2"],"m":${m}}`,
        ]);
      }
      await until(() => alice.events.length === 5, 'deliveries');
      expect(alice.events.map((event) => event.modseq)).toEqual([
        7,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    } finally {
      await bus.close();
    }
  });

  it('wakes subscribers from plain SQL through easkit_notify_push, with the same limits', async () => {
    const channel = freshChannel();
    const bus = new PgPushBus({ database: target.database, channel });
    try {
      const alice = recorder();
      const longUser = `${'y'.repeat(8500)}@example.com`;
      const long = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      await bus.subscribe(longUser, long.listener);
      await target.database.query('SELECT easkit_notify_push($1, $2, $3)', [
        'alice@example.com',
        ['5', '9'],
        channel,
      ]);
      await target.database.query('SELECT easkit_notify_push($1, $2, $3)', [
        'alice@example.com',
        Array.from({ length: 2000 }, (_, index) => `folder-${index}`),
        channel,
      ]);
      await target.database.query('SELECT easkit_notify_push($1, $2, $3)', [longUser, ['1'], channel]);
      await target.database.query('SELECT easkit_notify_push($1, channel => $2)', [
        'alice@example.com',
        channel,
      ]);
      await until(() => alice.events.length === 3 && long.events.length === 1, 'deliveries');
      expect(alice.folders()).toEqual([['5', '9'], [], []]);
      expect(long.folders()).toEqual([[]]);
    } finally {
      await bus.close();
    }
  });

  it('notifyPush inside a transaction wakes on commit and never on rollback', async () => {
    const channel = freshChannel();
    const bus = new PgPushBus({ database: target.database, channel });
    try {
      const alice = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      await expect(
        target.database.transaction(async (tx) => {
          await notifyPush(tx, 'alice@example.com', ['rolled-back'], { channel });
          throw new Error('stop (deliberately)');
        }),
      ).rejects.toThrow('stop');
      await target.database.transaction(async (tx) => {
        await notifyPush(tx, 'alice@example.com', ['committed'], { channel });
      });
      await bus.publish('alice@example.com', ['marker']);
      await until(() => alice.hasMarker('marker'), 'the marker');
      expect(alice.folders()).toEqual([['committed'], ['marker']]);
    } finally {
      await bus.close();
    }
  });

  it('ignores payloads that are not wake-ups and counts them', async () => {
    const channel = freshChannel();
    const bus = new PgPushBus({ database: target.database, channel });
    try {
      const alice = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      for (const payload of ['not json', '{}', '[1]', 'null', '{"u": 5}']) {
        await target.database.query('SELECT pg_notify($1, $2)', [channel, payload]);
      }
      await target.database.query('SELECT pg_notify($1, $2)', [
        channel,
        '{"u":"alice@example.com","f":[1,2]}',
      ]);
      await bus.publish('alice@example.com', ['marker']);
      await until(() => alice.hasMarker('marker'), 'the marker');
      expect(alice.folders()).toEqual([[], ['marker']]);
      expect(bus.stats()).toMatchObject({ users: 1, subscriptions: 1, listening: true, malformed: 5 });
    } finally {
      await bus.close();
    }
  });

  it('with the mailbox trigger turned on, any change of a mailbox wakes its user once per transaction', async () => {
    const user = 'trigger@example.com';
    const bus = new PgPushBus({ database: target.database });
    const mailbox = new PgMailboxStore({ database: target.database });
    try {
      await mailbox.createUser({ id: user, primarySmtpAddress: user });
      const seen = recorder();
      await bus.subscribe(user, seen.listener);
      const folder = (displayName: string) =>
        mailbox.createFolder(user, { parentId: '0', displayName, type: 12 });
      const marker = async (name: string) => {
        await bus.publish(user, [name]);
        await until(() => seen.hasMarker(name), name);
      };

      await folder('while off');
      await marker('off');
      expect(seen.folders()).toEqual([['off']]);

      await setMailboxPushTrigger(target.database, true);
      await setMailboxPushTrigger(target.database, true);
      await folder('through easkit');
      // Another program, three writes in one transaction.
      await target.database.transaction(async (tx) => {
        for (let index = 0; index < 3; index++) {
          await tx.query('UPDATE easkit_mailbox_users SET modseq = modseq + 1 WHERE id = $1', [user]);
        }
      });
      await marker('on');
      expect(seen.folders()).toEqual([['off'], [], [], ['on']]);

      await setMailboxPushTrigger(target.database, false);
      await folder('off again');
      await marker('off again');
      expect(seen.folders()).toEqual([['off'], [], [], ['on'], ['off again']]);
    } finally {
      await setMailboxPushTrigger(target.database, false);
      await bus.close();
    }
  });

  it('refuses a channel name that is not a plain identifier', () => {
    for (const channel of ['', 'Upper', 'with space', 'a"b', 'x'.repeat(64)]) {
      expect(() => new PgPushBus({ database: target.database, channel })).toThrow(TypeError);
    }
  });
}

describe('PgPushBus on PGlite', () => {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await freshPGlite();
  });
  afterAll(async () => target?.close());
  const channels = new WeakMap<object, string>();
  runPushBusConformance({
    name: 'PgPushBus on PGlite',
    create: ({ onError }) => {
      const bus = new PgPushBus({ database: target.database, channel: freshChannel(), onError });
      channels.set(bus, bus.channel);
      return bus;
    },
    // Two buses on one embedded database: what two parts of one process would have.
    createPeer: (bus, { onError }) =>
      new PgPushBus({ database: target.database, channel: channels.get(bus) as string, onError }),
    capabilities: { immediateDelivery: false },
  });
  describe('behaviour', () => behaviour(() => freshPGlite()));
});

describe.runIf(await postgresAvailable())('PgPushBus on PostgreSQL', () => {
  let target: TestDatabase;
  /** A second pool and Database on the same database: another server instance. */
  let peerPool: pg.Pool;
  let peerDatabase: Database;
  beforeAll(async () => {
    target = await freshPostgres('push_bus');
    peerPool = new pg.Pool({ connectionString: target.url, max: 10 });
    peerDatabase = postgresDatabase({ pool: peerPool, listenRetryMs: 20 });
  });
  afterAll(async () => {
    await peerDatabase?.close();
    await peerPool?.end();
    await target?.close();
  });

  runPushBusConformance({
    name: 'PgPushBus on PostgreSQL',
    create: ({ onError }) => new PgPushBus({ database: target.database, channel: freshChannel(), onError }),
    createPeer: (bus, { onError }) =>
      new PgPushBus({ database: peerDatabase, channel: (bus as PgPushBus).channel, onError }),
    capabilities: { immediateDelivery: false },
  });

  it('a publish through one instance wakes a subscriber on another', async () => {
    const channel = freshChannel();
    const a = new PgPushBus({ database: target.database, channel });
    const b = new PgPushBus({ database: peerDatabase, channel });
    try {
      const onB = recorder();
      await b.subscribe('alice@example.com', onB.listener);
      await a.publish('alice@example.com', ['5']);
      await until(() => onB.events.length === 1, 'the wake-up on B');
      expect(onB.events).toEqual([{ user: 'alice@example.com', folderIds: ['5'] }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('after its LISTEN connection is killed, reconnects and tells every subscriber to re-check', async () => {
    const channel = freshChannel();
    const disconnects: Error[] = [];
    let reconnects = 0;
    const bus = new PgPushBus({
      database: peerDatabase,
      channel,
      onDisconnect: (error) => disconnects.push(error),
      onReconnect: () => reconnects++,
    });
    const publisher = new PgPushBus({ database: target.database, channel });
    try {
      const alice = recorder();
      const bob = recorder();
      await bus.subscribe('alice@example.com', alice.listener);
      await bus.subscribe('bob@example.com', bob.listener);
      await publisher.publish('alice@example.com', ['before']);
      await until(() => alice.hasMarker('before'), 'the first event');

      const killed = await target.database.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE datname = current_database() AND query = $1`,
        [`LISTEN "${channel}"`],
      );
      expect(killed.rows).toEqual([{ killed: true }]);

      await until(() => reconnects === 1, 'the reconnect');
      expect(disconnects.length).toBe(1);
      expect(bus.stats().listening).toBe(true);
      // The re-check signal: an empty folder list for every user with a subscriber.
      await until(() => alice.events.length === 2 && bob.events.length === 1, 're-check events');
      expect(alice.folders()).toEqual([['before'], []]);
      expect(bob.folders()).toEqual([[]]);

      await publisher.publish('alice@example.com', ['after']);
      await until(() => alice.hasMarker('after'), 'an event after the reconnect');
      expect(alice.folders()).toEqual([['before'], [], ['after']]);
    } finally {
      await bus.close();
      await publisher.close();
    }
  });

  describe('behaviour', () => behaviour(() => freshPostgres('push_bus_behaviour')));
});
