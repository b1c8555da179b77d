import { strict as assert } from 'node:assert';
import type { FolderId } from '@easkit/mailbox';
import { type PushBus, type PushEvent, WaiterRegistry, type WaitOutcome } from '@easkit/push';
import { runPushBusConformance } from '@easkit/push/conformance';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, it } from 'vitest';
import { cleanPrefix, connect, PrivateRedis, redisAvailable, testPrefix, until } from '../test/redis.js';
import { createRedisPushBus, type RedisPushBus, type RedisPushBusOptions } from './push-bus.js';

const available = await redisAvailable();
const prefix = testPrefix('push-bus');
const admin = available ? connect() : undefined;
/** Every connection a test opened, closed after it. */
const opened: Redis[] = [];
const buses: PushBus[] = [];

function open(url?: string): Redis {
  const options = { maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(times * 20, 200) };
  const client = url ? new Redis(url, options) : connect(options);
  client.on('error', () => {}); // reconnects are what these tests are about
  opened.push(client);
  return client;
}

/** A bus as one server instance has it: its own command connection and its own subscriber. */
function instance(
  keyPrefix: string,
  options: Partial<RedisPushBusOptions> & { url?: string } = {},
): RedisPushBus {
  const { url, ...rest } = options;
  const bus = createRedisPushBus({ client: open(url), subscriber: open(url), keyPrefix, ...rest });
  buses.push(bus);
  return bus;
}

const prefixes = new WeakMap<PushBus, string>();
let checks = 0;

afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
  for (const client of opened.splice(0)) client.disconnect();
});

afterAll(async () => {
  if (!admin) return;
  await cleanPrefix(admin, prefix);
  admin.disconnect();
});

/** A WaiterRegistry wait whose store is a set of changed folders the test writes to. */
function waitOn(registry: WaiterRegistry, deviceId: string, changed: Set<FolderId>, calls?: unknown[]) {
  return registry.wait({
    user: 'alice@example.com',
    deviceId,
    folderIds: ['5', '9'],
    heartbeatMs: 600_000,
    hasChanges: async (hint) => {
      calls?.push(hint);
      return (hint ?? ['5', '9']).filter((id) => changed.has(id));
    },
  });
}

describe.skipIf(!available)('RedisPushBus', () => {
  for (const pubsub of ['sharded', 'classic'] as const) {
    runPushBusConformance({
      name: `RedisPushBus (${pubsub})`,
      create: ({ onError }) => {
        const keyPrefix = `${prefix}${checks++}:`;
        const bus = instance(keyPrefix, { onError, pubsub });
        prefixes.set(bus, keyPrefix);
        return bus;
      },
      createPeer: (bus) => instance(prefixes.get(bus)!, { pubsub }),
      capabilities: { immediateDelivery: false },
    });
  }
  runPushBusConformance({
    name: 'RedisPushBus (sharded, releaseDelayMs 50)',
    create: ({ onError }) => {
      const keyPrefix = `${prefix}${checks++}:`;
      const bus = instance(keyPrefix, { onError, releaseDelayMs: 50 });
      prefixes.set(bus, keyPrefix);
      return bus;
    },
    createPeer: (bus) => instance(prefixes.get(bus)!),
    capabilities: { immediateDelivery: false },
  });

  it('keeps generated users apart and carries generated folder ids exactly (braces, quotes, lone surrogates)', async () => {
    const keyPrefix = `${prefix}generated:`;
    const [one, two] = [instance(keyPrefix), instance(keyPrefix)];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), {
          minLength: 2,
          maxLength: 4,
        }),
        fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 4 }),
        async (users, folderIds) => {
          const received = new Map<string, PushEvent[]>(users.map((user) => [user, []]));
          const ends = await Promise.all(
            users.map((user) => two.subscribe(user, (event) => void received.get(user)!.push(event))),
          );
          for (const user of users) await one.publish(user, [...folderIds, user]);
          await until(
            () => [...received.values()].every((events) => events.length >= 1),
            'one event per user',
          );
          for (const [user, events] of received) {
            assert.deepEqual(events, [{ user, folderIds: [...folderIds, user] }]);
          }
          for (const end of ends) await end();
        },
      ),
      { numRuns: 25 },
    );
    assert.equal(two.stats().users, 0);
  });

  it('carries the modseq as a trailing object that an older instance reads as a folder nobody watches', async () => {
    const keyPrefix = `${prefix}modseq:`;
    const [one, two] = [
      instance(keyPrefix, { pubsub: 'classic' }),
      instance(keyPrefix, { pubsub: 'classic' }),
    ];
    const raw = open();
    const payloads: string[] = [];
    raw.on('pmessage', (_pattern: string, _channel: string, message: string) => void payloads.push(message));
    await raw.psubscribe(`${keyPrefix}push*`);
    const events: PushEvent[] = [];
    await two.subscribe('alice@example.com', (event) => void events.push(event));
    await one.publish('alice@example.com', ['5', '9'], 12);
    await one.publish('alice@example.com', ['5']);
    await until(() => events.length === 2 && payloads.length === 2, 'two events');
    assert.deepEqual(events, [
      { user: 'alice@example.com', folderIds: ['5', '9'], modseq: 12 },
      { user: 'alice@example.com', folderIds: ['5'] },
    ]);
    assert.deepEqual(payloads, ['["5","9",{"m":12}]', '["5"]']);
    // What a receiver that predates the modseq makes of it: the real folders, plus one nobody watches.
    assert.deepEqual((JSON.parse(payloads[0]!) as unknown[]).map(String), ['5', '9', '[object Object]']);
  });

  it('subscribes to a user only while it has subscriptions or claims', async () => {
    const bus = instance(`${prefix}lifecycle:`);
    const channel = `${prefix}lifecycle:push{"alice@example.com"}`;
    const listeners = async () =>
      ((await admin!.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
    const first = await bus.subscribe('alice@example.com', () => {});
    const second = await bus.subscribe('alice@example.com', () => {});
    assert.equal(await listeners(), 1);
    await first();
    assert.equal(await listeners(), 1);
    const release = await bus.claim('alice@example.com', 'phone', () => {});
    await second();
    assert.equal(await listeners(), 1, 'the claim keeps the channel');
    release();
    await until(async () => (await listeners()) === 0, 'the channel to be released');
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0, claims: 0, resyncs: 0 });
  });

  it('with releaseDelayMs keeps an idle channel that long, and a new wait in time reuses it', async () => {
    const bus = instance(`${prefix}linger:`, { releaseDelayMs: 300 });
    const channel = `${prefix}linger:push{"bob@example.com"}`;
    const listeners = async () =>
      ((await admin!.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
    const events: unknown[] = [];
    const first = await bus.subscribe('bob@example.com', (event) => {
      events.push(event);
    });
    await first();
    assert.equal(await listeners(), 1, 'kept after the last subscription ended');
    assert.equal(bus.stats().users, 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Back within the delay: the same subscription carries on, and the timer starts again when it ends.
    const second = await bus.subscribe('bob@example.com', (event) => {
      events.push(event);
    });
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(await listeners(), 1, 'still subscribed while the second wait runs');
    await instance(`${prefix}linger:`).publish('bob@example.com', ['7']);
    await until(() => events.length === 1, 'the event');
    await second();
    await until(async () => (await listeners()) === 0, 'the channel to be released after the delay');
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0, claims: 0, resyncs: 0 });
    // An event for a user nobody waits for any more reaches nobody.
    assert.equal(events.length, 1);
  });

  it('a publish on one instance wakes a Ping waiting on another, for that user only', async () => {
    const keyPrefix = `${prefix}wake:`;
    const [one, two, three] = [instance(keyPrefix), instance(keyPrefix), instance(keyPrefix)];
    const changed = new Set<FolderId>();
    const onTwo = waitOn(new WaiterRegistry({ bus: two }), 'phone', changed);
    const onThree = waitOn(new WaiterRegistry({ bus: three }), 'tablet', changed);
    const bobEvents: PushEvent[] = [];
    await three.subscribe('bob@example.com', (event) => {
      bobEvents.push(event);
    });
    await until(() => two.stats().users === 1 && three.stats().users === 2, 'both waits to subscribe');
    changed.add('9');
    await one.publish('alice@example.com', ['9']);
    assert.deepEqual(await onTwo, { kind: 'changed', folderIds: ['9'] });
    assert.deepEqual(await onThree, { kind: 'changed', folderIds: ['9'] });
    assert.deepEqual(bobEvents, []);
  });

  it('a new wait of a device on another instance supersedes the older one', async () => {
    const keyPrefix = `${prefix}supersede:`;
    const [one, two] = [instance(keyPrefix), instance(keyPrefix)];
    const registries = [one, two].map((bus) => new WaiterRegistry({ bus, claims: bus }));
    const changed = new Set<FolderId>();
    const first = waitOn(registries[0]!, 'phone', changed);
    const otherDevice = waitOn(registries[0]!, 'tablet', changed);
    await until(() => one.stats().claims === 2, 'the first claims');
    const second = waitOn(registries[1]!, 'phone', changed);
    assert.deepEqual(await first, { kind: 'superseded' });
    // And back: the device returns to the first instance.
    await until(() => two.stats().claims === 1, 'the second claim');
    const third = waitOn(registries[0]!, 'phone', changed);
    assert.deepEqual(await second, { kind: 'superseded' });
    changed.add('5');
    await two.publish('alice@example.com', ['5']);
    assert.deepEqual(await third, { kind: 'changed', folderIds: ['5'] });
    assert.deepEqual(await otherDevice, { kind: 'changed', folderIds: ['5'] });
    await until(() => one.stats().claims === 0 && two.stats().claims === 0, 'every claim withdrawn');
  });
});

describe.skipIf(!available)('RedisPushBus.relayInterrupts', () => {
  it('carries an administrator’s interrupt to every instance, and stops with the relay', async () => {
    const keyPrefix = `${prefix}interrupt:`;
    const buses3 = [instance(keyPrefix), instance(keyPrefix), instance(keyPrefix)];
    const seen: Array<Array<{ user?: string; deviceId?: string }>> = [[], [], []];
    const relays = await Promise.all(
      buses3.map((bus, index) => bus.relayInterrupts((scope) => seen[index]!.push(scope))),
    );
    const channel = `${keyPrefix}interrupt`;
    const listeners = async () =>
      ((await admin!.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
    assert.equal(await listeners(), 3);
    await relays[0]!.interrupt({ user: 'alice@example.com', deviceId: 'phone' });
    await relays[2]!.interrupt({});
    await until(() => seen.every((each) => each.length === 2), 'both interrupts on every instance');
    for (const each of seen) assert.deepEqual(each, [{ user: 'alice@example.com', deviceId: 'phone' }, {}]);
    await relays[1]!.stop();
    await relays[1]!.stop();
    assert.equal(await listeners(), 2);
    await relays[0]!.interrupt({ user: 'bob@example.com' });
    await until(() => seen[0]!.length === 3 && seen[2]!.length === 3, 'the third interrupt');
    assert.equal(seen[1]!.length, 2, 'a stopped relay hears nothing');
  });
});

describe.skipIf(!available)('RedisPushBus on a private redis-server that goes away', () => {
  let server: PrivateRedis | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('after a restart every subscriber re-checks, and later publishes arrive', async () => {
    server = await PrivateRedis.start();
    const keyPrefix = 'restart:';
    const [one, two] = [instance(keyPrefix, { url: server.url }), instance(keyPrefix, { url: server.url })];
    const registry = new WaiterRegistry({ bus: two });
    const changed = new Set<FolderId>();
    const calls: unknown[] = [];
    const waiting = waitOn(registry, 'phone', changed, calls);
    const events: PushEvent[] = [];
    await two.subscribe('alice@example.com', (event) => {
      events.push(event);
    });
    await until(() => calls.length === 1, 'the first re-read');
    await server.stop();
    changed.add('5'); // a change made while Redis is down: its publish is lost
    await server.start();
    const outcome: WaitOutcome = await waiting;
    assert.deepEqual(outcome, { kind: 'changed', folderIds: ['5'] });
    assert.deepEqual(calls, [undefined, undefined], 'the wait re-read everything after the reconnect');
    await until(() => two.stats().resyncs === 1, 'the resync');
    assert.deepEqual(events, [{ user: 'alice@example.com', folderIds: [] }]);
    await one.publish('alice@example.com', ['after']);
    await until(() => events.length === 2, 'the publish after the restart');
    assert.deepEqual(events[1], { user: 'alice@example.com', folderIds: ['after'] });
  });

  it('retries the re-subscribe with back-off while Redis refuses it, then re-checks', async () => {
    server = await PrivateRedis.start();
    const keyPrefix = 'backoff:';
    const subscriber = open(server.url);
    const subscriberId = await subscriber.client('ID');
    const refusals: unknown[] = [];
    const bus = createRedisPushBus({
      client: open(server.url),
      subscriber,
      keyPrefix,
      resubscribeBackoffMs: { initial: 5, max: 20 },
      onBackendError: (error) => refusals.push(error),
    });
    buses.push(bus);
    const events: PushEvent[] = [];
    await bus.subscribe('alice@example.com', (event) => {
      events.push(event);
    });
    const admin = open(server.url);
    await admin.call('ACL', 'SETUSER', 'default', '-ssubscribe');
    await admin.call('CLIENT', 'KILL', 'ID', String(subscriberId));
    await until(() => refusals.length >= 3, 'three refused re-subscribes');
    assert.equal(bus.stats().resyncs, 0);
    await admin.call('ACL', 'SETUSER', 'default', '+ssubscribe');
    await until(() => bus.stats().resyncs === 1, 'the resync once Redis accepts');
    assert.deepEqual(events, [{ user: 'alice@example.com', folderIds: [] }]);
    await admin.spublish(`${keyPrefix}push{"alice@example.com"}`, '["after"]');
    await until(() => events.length === 2, 'the publish after the refusals');
  });

  it('after CLIENT KILL of the subscriber connection every subscriber re-checks, and later publishes arrive', async () => {
    server = await PrivateRedis.start();
    const keyPrefix = 'kill:';
    const subscriber = open(server.url);
    const subscriberId = await subscriber.client('ID');
    const two = createRedisPushBus({ client: open(server.url), subscriber, keyPrefix });
    buses.push(two);
    const one = instance(keyPrefix, { url: server.url });
    const events: PushEvent[] = [];
    await two.subscribe('alice@example.com', (event) => {
      events.push(event);
    });
    const claimed: string[] = [];
    await two.claim('alice@example.com', 'phone', () => claimed.push('phone'));
    const heard: unknown[] = [];
    await two.relayInterrupts((scope) => heard.push(scope));
    const sender = await one.relayInterrupts(() => {});
    const killer = open(server.url);
    // A claim of the device made elsewhere while the subscriber is away is found stored after the reconnect.
    assert.equal(await killer.call('CLIENT', 'KILL', 'ID', String(subscriberId)), 1);
    await one.claim('alice@example.com', 'phone', () => {});
    await until(() => two.stats().resyncs === 1, 'the resync');
    await until(() => events.length === 1, 'the re-check event');
    assert.deepEqual(events, [{ user: 'alice@example.com', folderIds: [] }]);
    await until(() => claimed.length === 1, 'the claim made during the gap to supersede');
    await one.publish('alice@example.com', ['after']);
    await until(() => events.length === 2, 'the publish after the kill');
    await sender.interrupt({ user: 'alice@example.com' });
    await until(() => heard.length === 1, 'an interrupt after the kill');
    assert.deepEqual(events[1], { user: 'alice@example.com', folderIds: ['after'] });
  });
});
