import { strict as assert } from 'node:assert';
import type { FolderId, UserId } from '@easkit/mailbox';
import { describe, expect, it } from 'vitest';
import { InProcessPushBus } from './in-process.js';
import type { PushListener, Unsubscribe } from './push-bus.js';
import { WaiterRegistry, type WaiterTimers, type WaitOutcome, type WaitRequest } from './waiters.js';

/** Timers fired by hand: no test waits for real time. */
class ManualTimers implements WaiterTimers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  set(callback: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.pending.set(id, { callback, ms });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every timer set for `ms` (or all). */
  fire(ms?: number): void {
    for (const [id, timer] of [...this.pending]) {
      if (ms !== undefined && timer.ms !== ms) continue;
      this.pending.delete(id);
      timer.callback();
    }
  }
}

/** Lets queued promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A fake store: folders with a change counter, and the cursor each device has seen. */
class FakeChanges {
  readonly modseq = new Map<string, number>();
  readonly seen = new Map<string, number>();
  calls: Array<readonly FolderId[] | undefined> = [];
  touch(user: UserId, folder: FolderId) {
    const key = `${user}/${folder}`;
    this.modseq.set(key, (this.modseq.get(key) ?? 0) + 1);
  }
  checker(user: UserId, deviceId: string, folders: readonly FolderId[]) {
    return async (hint: readonly FolderId[] | undefined) => {
      this.calls.push(hint);
      return (hint ?? folders).filter(
        (folder) =>
          (this.modseq.get(`${user}/${folder}`) ?? 0) > (this.seen.get(`${user}/${deviceId}/${folder}`) ?? 0),
      );
    };
  }
}

function setUp() {
  const bus = new InProcessPushBus();
  const timers = new ManualTimers();
  const registry = new WaiterRegistry({ bus, timers });
  const store = new FakeChanges();
  const outcomes = new Map<string, WaitOutcome | Error>();
  const wait = (user: UserId, deviceId: string, folderIds: FolderId[], heartbeatMs = 60_000) => {
    const request: WaitRequest = {
      user,
      deviceId,
      folderIds,
      heartbeatMs,
      hasChanges: store.checker(user, deviceId, folderIds),
    };
    const promise = registry.wait(request);
    promise.then(
      (outcome) => outcomes.set(`${user}/${deviceId}`, outcome),
      (error: Error) => outcomes.set(`${user}/${deviceId}`, error),
    );
    return promise;
  };
  /** A change written to the store and published, as publishingMailbox does. */
  const change = async (user: UserId, folder: FolderId) => {
    store.touch(user, folder);
    await bus.publish(user, [folder]);
    await settle();
  };
  return { bus, timers, registry, store, outcomes, wait, change };
}

describe('WaiterRegistry', () => {
  it('answers changed when a watched folder changes during the wait', async () => {
    const { registry, wait, change, outcomes, store } = setUp();
    const waiting = wait('alice', 'phone', ['inbox', 'calendar']);
    await settle();
    assert.equal(outcomes.size, 0);
    await change('alice', 'contacts'); // not watched: no re-read at all
    assert.equal(outcomes.size, 0);
    assert.deepEqual(store.calls, [undefined]);
    await change('alice', 'inbox');
    assert.deepEqual(await waiting, { kind: 'changed', folderIds: ['inbox'] });
    assert.deepEqual(store.calls, [undefined, ['inbox']]);
    assert.deepEqual(registry.stats(), { users: 0, waiters: 0 });
  });

  it('answers at once for a change made before the wait (the first re-read)', async () => {
    const { wait, store } = setUp();
    store.touch('alice', 'calendar');
    assert.deepEqual(await wait('alice', 'phone', ['inbox', 'calendar']), {
      kind: 'changed',
      folderIds: ['calendar'],
    });
  });

  it('keeps waiting when an event brings nothing new for this device', async () => {
    const { wait, bus, outcomes, timers } = setUp();
    const waiting = wait('alice', 'phone', ['inbox']);
    await settle();
    await bus.publish('alice', ['inbox']); // e.g. the device's own write, already behind its cursor
    await settle();
    assert.equal(outcomes.size, 0);
    timers.fire();
    assert.deepEqual(await waiting, { kind: 'timeout' });
  });

  it('re-reads every folder for an event with the empty list', async () => {
    const { wait, bus, store } = setUp();
    const waiting = wait('alice', 'phone', ['inbox', 'notes']);
    await settle();
    store.touch('alice', 'notes');
    await bus.publish('alice', []);
    assert.deepEqual(await waiting, { kind: 'changed', folderIds: ['notes'] });
    assert.deepEqual(store.calls, [undefined, undefined]);
  });

  it('times out after the heartbeat, one timer per wait', async () => {
    const { wait, timers, registry } = setUp();
    const short = wait('alice', 'a', ['inbox'], 1000);
    const long = wait('alice', 'b', ['inbox'], 5000);
    assert.equal(timers.pending.size, 2);
    timers.fire(1000);
    assert.deepEqual(await short, { kind: 'timeout' });
    assert.deepEqual(registry.stats(), { users: 1, waiters: 1 });
    timers.fire(5000);
    assert.deepEqual(await long, { kind: 'timeout' });
    assert.equal(timers.pending.size, 0);
  });

  it('supersedes the older wait of the same device, never another device’s', async () => {
    const { wait, registry, change, outcomes, timers } = setUp();
    const first = wait('alice', 'phone', ['inbox']);
    const tablet = wait('alice', 'tablet', ['inbox']);
    const bobs = wait('bob', 'phone', ['inbox']);
    await settle();
    const second = wait('alice', 'phone', ['inbox', 'calendar']);
    assert.deepEqual(await first, { kind: 'superseded' });
    assert.equal(outcomes.has('alice/tablet'), false);
    assert.equal(outcomes.has('bob/phone'), false);
    assert.deepEqual(registry.stats(), { users: 2, waiters: 3 });
    assert.equal(timers.pending.size, 3, 'the superseded wait’s timer is cleared');
    await change('alice', 'calendar');
    assert.deepEqual(await second, { kind: 'changed', folderIds: ['calendar'] });
    await registry.close();
    assert.deepEqual(await tablet, { kind: 'shutdown' });
    assert.deepEqual(await bobs, { kind: 'shutdown' });
  });

  it('never wakes a user’s waits for another user’s change', async () => {
    const { wait, change, outcomes, store, registry } = setUp();
    const users = Array.from({ length: 50 }, (_, index) => `user${index}`);
    const waits = users.map((user) => wait(user, 'phone', ['inbox']));
    await settle();
    store.calls = [];
    await change('user7', 'inbox');
    assert.deepEqual(await waits[7], { kind: 'changed', folderIds: ['inbox'] });
    assert.deepEqual([...outcomes.keys()], ['user7/phone']);
    assert.equal(store.calls.length, 1, 'only user7’s wait re-read the store');
    await registry.close();
  });

  it('shares one bus subscription per user and drops it with the user’s last wait', async () => {
    const { wait, bus, registry, timers, change } = setUp();
    const waits = Array.from({ length: 200 }, (_, index) =>
      wait(`user${index % 20}`, `device${index}`, ['inbox']),
    );
    await settle();
    assert.deepEqual(bus.stats(), { users: 20, subscriptions: 20 });
    assert.deepEqual(registry.stats(), { users: 20, waiters: 200 });
    await change('user3', 'inbox');
    const user3 = waits.filter((_, index) => index % 20 === 3);
    const woken = (await Promise.all(user3)).map((outcome) => outcome.kind);
    assert.deepEqual(woken, Array(10).fill('changed'));
    await settle();
    assert.deepEqual(registry.stats(), { users: 19, waiters: 10 * 19 });
    assert.deepEqual(bus.stats(), { users: 19, subscriptions: 19 });
    timers.fire();
    await Promise.all(waits);
    await settle();
    assert.deepEqual(registry.stats(), { users: 0, waiters: 0 });
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
  });

  it('holds many devices and wakes exactly the ones whose folders changed', async () => {
    const { wait, change, registry, outcomes } = setUp();
    const waits: Promise<WaitOutcome>[] = [];
    for (let index = 0; index < 5000; index++)
      waits.push(wait(`u${index % 500}`, `d${index}`, [`f${index % 3}`]));
    await settle();
    assert.deepEqual(registry.stats(), { users: 500, waiters: 5000 });
    await change('u42', 'f1');
    // u42 holds devices 42, 542, ..., 4542; those with index % 3 === 1 watch f1.
    const expected = Array.from({ length: 10 }, (_, k) => 42 + 500 * k).filter((index) => index % 3 === 1);
    assert.deepEqual([...outcomes.keys()].sort(), expected.map((index) => `u42/d${index}`).sort());
    await registry.close();
    assert.equal(
      (await Promise.all(waits)).filter((outcome) => outcome.kind === 'shutdown').length,
      5000 - expected.length,
    );
  });

  it('merges events that arrive during a re-read into one further re-read', async () => {
    const bus = new InProcessPushBus();
    const registry = new WaiterRegistry({ bus, timers: new ManualTimers() });
    const calls: Array<readonly FolderId[] | undefined> = [];
    let release: (() => void) | undefined;
    let answer: FolderId[] = [];
    const waiting = registry.wait({
      user: 'alice',
      deviceId: 'phone',
      folderIds: ['a', 'b', 'c'],
      heartbeatMs: 1000,
      hasChanges: (hint) => {
        calls.push(hint);
        return new Promise((resolve) => {
          release = () => resolve(answer);
        });
      },
    });
    await settle();
    assert.deepEqual(calls, [undefined]); // the first re-read is running
    await bus.publish('alice', ['a']);
    await bus.publish('alice', ['b', 'x']);
    assert.equal(calls.length, 1, 'no overlapping re-reads');
    release?.();
    await settle();
    assert.deepEqual(calls, [undefined, ['a', 'b']]);
    answer = ['b'];
    release?.();
    assert.deepEqual(await waiting, { kind: 'changed', folderIds: ['b'] });
  });

  it('passes the newest modseq of each hinted folder, and none once an event of it had none', async () => {
    const bus = new InProcessPushBus();
    const registry = new WaiterRegistry({ bus, timers: new ManualTimers() });
    const calls: Array<[readonly FolderId[] | undefined, Record<string, number> | undefined]> = [];
    let release: (() => void) | undefined;
    const waiting = registry.wait({
      user: 'alice',
      deviceId: 'phone',
      folderIds: ['a', 'b', 'c', 'd'],
      heartbeatMs: 1000,
      hasChanges: (hint, modseqs) => {
        calls.push([hint, modseqs === undefined ? undefined : Object.fromEntries(modseqs)]);
        return new Promise((resolve) => {
          release = () => resolve([]);
        });
      },
    });
    await settle();
    // During the first re-read: merged into one further call.
    await bus.publish('alice', ['a', 'b'], 7);
    await bus.publish('alice', ['a'], 5); // older than 7: the newest stays
    await bus.publish('alice', ['b']); // no modseq: b must be read
    await bus.publish('alice', ['b'], 9);
    await bus.publish('alice', ['c', 'x'], 8);
    release?.();
    await settle();
    release?.(); // the merged call finds nothing
    await settle();
    // A single event while idle.
    await bus.publish('alice', ['d'], 11);
    await settle();
    assert.deepEqual(calls, [
      [undefined, undefined],
      [['a', 'b', 'c'], { a: 7, c: 8 }],
      [['d'], { d: 11 }],
    ]);
    registry.close();
    assert.deepEqual(await waiting, { kind: 'shutdown' });
  });

  it('rejects the wait when hasChanges fails, and cleans up', async () => {
    const bus = new InProcessPushBus();
    const timers = new ManualTimers();
    const registry = new WaiterRegistry({ bus, timers });
    const failure = new Error('store down');
    await assert.rejects(
      registry.wait({
        user: 'alice',
        deviceId: 'phone',
        folderIds: ['a'],
        heartbeatMs: 1000,
        hasChanges: async () => {
          throw failure;
        },
      }),
      failure,
    );
    await settle();
    assert.deepEqual(registry.stats(), { users: 0, waiters: 0 });
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
    assert.equal(timers.pending.size, 0);
  });

  it('rejects when the bus refuses the subscription', async () => {
    const bus = new InProcessPushBus();
    await bus.close();
    const registry = new WaiterRegistry({ bus, timers: new ManualTimers() });
    await assert.rejects(
      registry.wait({
        user: 'a',
        deviceId: 'd',
        folderIds: ['x'],
        heartbeatMs: 1,
        hasChanges: async () => [],
      }),
      { name: 'PushBusClosedError' },
    );
    assert.deepEqual(registry.stats(), { users: 0, waiters: 0 });
  });

  it('subscribes before the first re-read, so a change made while subscribing is not lost', async () => {
    // A bus whose subscribe takes a while; a change lands in the store meanwhile, published before the
    // subscription is active (so the event itself is lost): the re-read after subscribing must catch it.
    let store = 0;
    const inner = new InProcessPushBus();
    const slowBus = {
      publish: inner.publish.bind(inner),
      close: inner.close.bind(inner),
      async subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe> {
        store = 1;
        await inner.publish(user, ['inbox']);
        return inner.subscribe(user, listener);
      },
    };
    const registry = new WaiterRegistry({ bus: slowBus, timers: new ManualTimers() });
    const outcome = await registry.wait({
      user: 'alice',
      deviceId: 'phone',
      folderIds: ['inbox'],
      heartbeatMs: 1000,
      hasChanges: async () => (store > 0 ? ['inbox'] : []),
    });
    assert.deepEqual(outcome, { kind: 'changed', folderIds: ['inbox'] });
  });

  it('answers every wait with shutdown on close, and later waits at once', async () => {
    const { wait, registry, bus, timers } = setUp();
    const waits = [wait('alice', 'a', ['inbox']), wait('bob', 'b', ['inbox'])];
    await settle();
    await registry.close();
    assert.deepEqual(await Promise.all(waits), [{ kind: 'shutdown' }, { kind: 'shutdown' }]);
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
    assert.equal(timers.pending.size, 0);
    assert.deepEqual(await wait('alice', 'a', ['inbox']), { kind: 'shutdown' });
  });

  it('uses real timers by default', async () => {
    const registry = new WaiterRegistry({ bus: new InProcessPushBus() });
    const outcome = await registry.wait({
      user: 'alice',
      deviceId: 'phone',
      folderIds: ['inbox'],
      heartbeatMs: 5,
      hasChanges: async () => [],
    });
    assert.deepEqual(outcome, { kind: 'timeout' });
  });
});

describe('WaiterRegistry: cancelled waits', () => {
  it('ends a wait whose signal aborts, and drops its entry and subscription', async () => {
    const bus = new InProcessPushBus();
    const registry = new WaiterRegistry({ bus });
    const controller = new AbortController();
    const waiting = registry.wait({
      user: 'u1',
      deviceId: 'd1',
      folderIds: ['f1'],
      heartbeatMs: 60_000,
      hasChanges: async () => [],
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(registry.stats()).toMatchObject({ users: 1, waiters: 1 });
    controller.abort();
    expect(await waiting).toEqual({ kind: 'cancelled' });
    expect(registry.stats()).toMatchObject({ users: 0, waiters: 0 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(bus.stats()).toMatchObject({ subscriptions: 0 });
    const already = await registry.wait({
      user: 'u1',
      deviceId: 'd1',
      folderIds: ['f1'],
      heartbeatMs: 60_000,
      hasChanges: async () => [],
      signal: controller.signal,
    });
    expect(already).toEqual({ kind: 'cancelled' });
    await registry.close();
  });
});

describe('WaiterRegistry: cross-instance claims', () => {
  /** Two registries as two server instances, with claims that reach each other through a shared list. */
  function twoInstances(options: { failClaims?: boolean } = {}) {
    const bus = new InProcessPushBus();
    const holders = new Map<string, { instance: string; superseded: () => void }>();
    const released: string[] = [];
    const errors: unknown[] = [];
    const claimsOf = (instance: string) => ({
      async claim(user: UserId, deviceId: string, superseded: () => void) {
        if (options.failClaims) throw new Error('claims unavailable (deliberately)');
        const key = `${user}/${deviceId}`;
        const older = holders.get(key);
        const mine = { instance, superseded };
        holders.set(key, mine);
        if (older && older.instance !== instance) older.superseded();
        return () => {
          released.push(`${instance}:${key}`);
          if (holders.get(key) === mine) holders.delete(key);
        };
      },
    });
    const timers = new ManualTimers();
    const make = (instance: string) =>
      new WaiterRegistry({ bus, timers, claims: claimsOf(instance), onError: (error) => errors.push(error) });
    const request = (deviceId: string): WaitRequest => ({
      user: 'alice',
      deviceId,
      folderIds: ['5'],
      heartbeatMs: 60_000,
      hasChanges: async () => [],
    });
    return { a: make('a'), b: make('b'), bus, timers, holders, released, errors, request };
  }

  it('a wait of the device on another instance ends the older one with superseded', async () => {
    const { a, b, request, released } = twoInstances();
    const first = a.wait(request('phone'));
    const other = a.wait(request('tablet'));
    await settle();
    const second = b.wait(request('phone'));
    assert.deepEqual(await first, { kind: 'superseded' });
    assert.deepEqual(a.stats(), { users: 1, waiters: 1 });
    assert.ok(released.includes('a:alice/phone'), 'the superseded wait withdrew its claim');
    await b.close();
    await a.close();
    assert.deepEqual(await second, { kind: 'shutdown' });
    assert.deepEqual(await other, { kind: 'shutdown' });
  });

  it('withdraws the claim when the wait ends any other way', async () => {
    const { a, request, released, timers, holders } = twoInstances();
    const waiting = a.wait(request('phone'));
    await settle();
    timers.fire(60_000);
    assert.deepEqual(await waiting, { kind: 'timeout' });
    assert.deepEqual(released, ['a:alice/phone']);
    assert.equal(holders.size, 0);
  });

  it('reports a failing claim and keeps the wait', async () => {
    const { a, request, errors, timers } = twoInstances({ failClaims: true });
    const waiting = a.wait(request('phone'));
    await settle();
    assert.equal(errors.length, 1);
    timers.fire(60_000);
    assert.deepEqual(await waiting, { kind: 'timeout' });
  });
});

describe('WaiterRegistry: onOutcome', () => {
  it('reports how every wait ended, and a throwing callback reaches onError only', async () => {
    const bus = new InProcessPushBus();
    const timers = new ManualTimers();
    const seen: string[] = [];
    const errors: unknown[] = [];
    const registry = new WaiterRegistry({
      bus,
      timers,
      onOutcome: (outcome) => {
        seen.push(outcome.kind);
        if (outcome.kind === 'timeout') throw new Error('metrics broke');
      },
      onError: (error) => errors.push(error),
    });
    let changed = false;
    const request = (deviceId: string): WaitRequest => ({
      user: 'u',
      deviceId,
      folderIds: ['f'],
      heartbeatMs: 1000,
      hasChanges: async () => (changed ? ['f'] : []),
    });
    const first = registry.wait(request('a'));
    const second = registry.wait(request('b'));
    await settle();
    changed = true;
    await bus.publish('u', ['f']);
    expect((await first).kind).toBe('changed');
    expect((await second).kind).toBe('changed');
    changed = false;
    const third = registry.wait(request('c'));
    await settle();
    timers.fire();
    expect((await third).kind).toBe('timeout');
    expect(seen).toEqual(['changed', 'changed', 'timeout']);
    expect(errors).toHaveLength(1);
  });
});
