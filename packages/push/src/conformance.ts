/**
 * The behavioural tests every `PushBus` must pass, for adapter authors:
 *
 * ```ts
 * import { runPushBusConformance } from '@easkit/push/conformance';
 * runPushBusConformance({ name: 'redis', create: ({ onError }) => createRedisPushBus({ ..., onError }) });
 * ```
 *
 * This module imports vitest (an optional peer dependency); the package's main entry never loads it.
 * Positive checks wait for deliveries with a bounded timeout, never a fixed sleep, so the suite works for
 * backends that deliver through a network (Redis pub/sub, Postgres LISTEN/NOTIFY). Negative checks ("nothing
 * arrived") publish a marker behind the event that must not arrive and wait for the marker instead.
 */
import { strict as assert } from 'node:assert';
import type { FolderId, UserId } from '@easkit/mailbox';
import { describe, it } from 'vitest';
import type { PushBus, PushErrorHandler, PushEvent, PushListener } from './push-bus.js';

/**
 * What a backend may not support. Like the other easkit suites, every capability is assumed unless set to
 * `false`; a check that needs a switched-off capability is registered as skipped, with the capability in its
 * title.
 */
export interface PushBusCapabilities {
  /** Listeners in the publishing process have been called when `publish` resolves (true of the in-process bus;
   * set it to `false` for a bus that delivers through a network). */
  immediateDelivery?: boolean;
  /** The bus reports listener errors through the `onError` handed to `create`. */
  errorHook?: boolean;
}

/** A check's requirement: one of the capabilities, or `crossInstance`, which holds when `createPeer` is given. */
export type PushBusCapability = keyof PushBusCapabilities | 'crossInstance';

/** Handed to `create`: pass `onError` to the bus if it has an error hook. */
export interface PushBusFactoryContext {
  onError: PushErrorHandler;
}

export interface PushBusConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /** A fresh bus that no other check shares (its own key prefix or channel namespace). */
  create: (context: PushBusFactoryContext) => PushBus | Promise<PushBus>;
  /**
   * A second bus on the same backend and namespace as `bus`, as another server instance would have. Without it
   * the cross-instance check is skipped.
   */
  createPeer?: (bus: PushBus, context: PushBusFactoryContext) => PushBus | Promise<PushBus>;
  capabilities?: PushBusCapabilities;
  /** Runs after each check, once the suite has closed the bus (and its peers). */
  cleanup?: (bus: PushBus) => void | Promise<void>;
  /** How long a check waits for an expected delivery before failing; 2000 ms unless set. */
  timeoutMs?: number;
}

/** What one check runs against. */
export interface PushBusCheckContext {
  readonly bus: PushBus;
  /** Everything the bus reported through the `onError` handed to `create`, in order. */
  readonly reportedErrors: ReadonlyArray<{ error: unknown; event: PushEvent }>;
  /** A second bus on the same backend (for the `crossInstance` check; needs `createPeer`). */
  peer(): Promise<PushBus>;
  readonly timeoutMs: number;
}

export interface ConformanceCheck {
  readonly name: string;
  readonly capability?: PushBusCapability;
  run(context: PushBusCheckContext): Promise<void>;
}

/**
 * Builds the context for one check and a `dispose` that closes every bus it made and runs `cleanup`. Exported so
 * that a custom runner (or a test of the suite itself) can run `pushBusChecks` without vitest's `it`.
 */
export async function createPushBusCheckContext(
  options: PushBusConformanceOptions,
): Promise<{ context: PushBusCheckContext; dispose: () => Promise<void> }> {
  const reportedErrors: Array<{ error: unknown; event: PushEvent }> = [];
  const factoryContext: PushBusFactoryContext = {
    onError: (error, event) => reportedErrors.push({ error, event }),
  };
  const bus = await options.create(factoryContext);
  const peers: PushBus[] = [];
  const context: PushBusCheckContext = {
    bus,
    reportedErrors,
    timeoutMs: options.timeoutMs ?? 2000,
    async peer() {
      if (!options.createPeer) throw new Error('this check needs createPeer in the conformance options');
      const peer = await options.createPeer(bus, factoryContext);
      peers.push(peer);
      return peer;
    },
  };
  const dispose = async () => {
    for (const peer of peers) await peer.close();
    await bus.close();
    await options.cleanup?.(bus);
  };
  return { context, dispose };
}

/** Registers one vitest test per check of `pushBusChecks`. Call it at the top level of a test file. */
export function runPushBusConformance(options: PushBusConformanceOptions): void {
  const capabilities = options.capabilities ?? {};
  const supported = (capability: PushBusCapability) =>
    capability === 'crossInstance' ? options.createPeer !== undefined : capabilities[capability] !== false;
  describe(`PushBus conformance: ${options.name}`, () => {
    for (const check of pushBusChecks) {
      // A check of a capability the bus does not claim is not registered at all (rather than shown as
      // skipped): it does not apply. `pushBusChecks` lists each check's capability for anyone who wants to know.
      if (check.capability && !supported(check.capability)) continue;
      it(check.name, async () => {
        const { context, dispose } = await createPushBusCheckContext(options);
        try {
          await check.run(context);
        } finally {
          await dispose();
        }
      });
    }
  });
}

/**
 * Records what a listener receives and waits, with a bounded timeout, until enough has arrived. The timeout only
 * ever fails a check; a passing check never waits for it.
 */
class Inbox {
  readonly events: PushEvent[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly #timeoutMs: number;
  readonly #label: string;

  constructor(label: string, timeoutMs: number) {
    this.#label = label;
    this.#timeoutMs = timeoutMs;
  }

  readonly listener: PushListener = (event) => {
    this.events.push(event);
    for (const wake of [...this.#waiters]) wake();
  };

  /** Folder lists received so far, one per event. */
  folders(): FolderId[][] {
    return this.events.map((event) => [...event.folderIds]);
  }

  /** Resolves once at least `count` events have arrived; fails the check after the timeout. */
  async waitForCount(count: number): Promise<void> {
    await this.waitUntil(() => this.events.length >= count, `${count} event(s)`);
  }

  /** Resolves once an event carrying the single folder id `marker` has arrived. */
  async waitForMarker(marker: FolderId): Promise<void> {
    await this.waitUntil(
      () => this.events.some((event) => event.folderIds.length === 1 && event.folderIds[0] === marker),
      `the marker event [${marker}]`,
    );
  }

  waitUntil(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (!done()) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new assert.AssertionError({
            message: `${this.#label}: expected ${what} within ${this.#timeoutMs} ms, got ${JSON.stringify(this.folders())}`,
          }),
        );
      }, this.#timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        const index = this.#waiters.indexOf(wake);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      this.#waiters.push(wake);
    });
  }
}

function inbox(context: PushBusCheckContext, label: string): Inbox {
  return new Inbox(label, context.timeoutMs);
}

async function waitForCondition(context: PushBusCheckContext, done: () => boolean, what: string) {
  // For state that changes outside any recorded listener (error reports): re-checks every millisecond, bounded.
  const deadline = Date.now() + context.timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`expected ${what} within ${context.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function isBusClosed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'bus-closed';
}

const ALICE: UserId = 'alice@example.com';
const BOB: UserId = 'bob@example.com';

/** Every check of the PushBus contract, in the order the suite registers them. */
export const pushBusChecks: readonly ConformanceCheck[] = [
  {
    name: 'delivers a published event to a subscriber of that user',
    async run(context) {
      const { bus } = context;
      await bus.publish('nobody@example.com', ['1']); // no subscriber: resolves, nothing happens
      const received = inbox(context, ALICE);
      await bus.subscribe(ALICE, received.listener);
      await bus.publish(ALICE, ['5', '7']);
      await received.waitForCount(1);
      assert.deepEqual(received.events[0], { user: ALICE, folderIds: ['5', '7'] });
    },
  },
  {
    name: 'carries folder ids as published, copied at publish time',
    async run(context) {
      const { bus } = context;
      const received = inbox(context, ALICE);
      await bus.subscribe(ALICE, received.listener);
      const folderIds = ['12', '12', 'a:b/c', '0'];
      const publishing = bus.publish(ALICE, folderIds);
      folderIds.length = 0;
      folderIds.push('changed-after-publish');
      await publishing;
      await bus.publish(ALICE, []);
      await received.waitForCount(2);
      assert.deepEqual(received.folders(), [['12', '12', 'a:b/c', '0'], []]);
    },
  },
  {
    name: 'carries the modseq a publisher gives, and none otherwise',
    async run(context) {
      const { bus } = context;
      const received = inbox(context, ALICE);
      await bus.subscribe(ALICE, received.listener);
      await bus.publish(ALICE, ['3'], 41);
      await bus.publish(ALICE, ['3', '4'], 0);
      await bus.publish(ALICE, ['3']);
      await bus.publish(ALICE, [], 42); // an empty list means "re-read everything": no modseq describes it
      await bus.publish(ALICE, ['5'], Number.MAX_SAFE_INTEGER);
      await received.waitForCount(5);
      assert.deepEqual(
        received.events.map((event) => [event.folderIds, event.modseq]),
        [
          [['3'], 41],
          [['3', '4'], 0],
          [['3'], undefined],
          [[], undefined],
          [['5'], Number.MAX_SAFE_INTEGER],
        ],
      );
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await assert.rejects(bus.publish(ALICE, ['3'], bad), TypeError, `modseq ${bad} refused`);
      }
    },
  },
  {
    name: 'delivers to every subscriber of a user, once per subscription',
    async run(context) {
      const { bus } = context;
      const inboxes = Array.from({ length: 5 }, (_, index) => inbox(context, `subscriber ${index}`));
      for (const each of inboxes) await bus.subscribe(ALICE, each.listener);
      const twice = inbox(context, 'listener subscribed twice');
      await bus.subscribe(ALICE, twice.listener);
      await bus.subscribe(ALICE, twice.listener);
      await bus.publish(ALICE, ['1']);
      await bus.publish(ALICE, ['marker']);
      for (const each of inboxes) await each.waitForMarker('marker');
      await twice.waitForCount(4);
      for (const each of inboxes) assert.deepEqual(each.folders(), [['1'], ['marker']]);
      assert.deepEqual(twice.folders(), [['1'], ['1'], ['marker'], ['marker']]);
    },
  },
  {
    name: 'does not deliver to other users, even with similar ids',
    async run(context) {
      const { bus } = context;
      // Ids that trip prefix matching, glob patterns, separators and case folding in channel names.
      const users = [
        ALICE,
        'alice@example.com2',
        'Alice@example.com',
        'alice*',
        'alice',
        'alice@example.co',
        BOB,
      ];
      const inboxes = new Map(users.map((user) => [user, inbox(context, user)] as const));
      for (const [user, each] of inboxes) await bus.subscribe(user, each.listener);
      for (const user of users) await bus.publish(user, [`for ${user}`]);
      for (const [user, each] of inboxes) await each.waitForMarker(`for ${user}`);
      for (const user of users) await bus.publish(user, ['marker']);
      for (const each of inboxes.values()) await each.waitForMarker('marker');
      for (const [user, each] of inboxes) {
        assert.deepEqual(each.folders(), [[`for ${user}`], ['marker']], `events received by ${user}`);
        for (const event of each.events) assert.equal(event.user, user);
      }
    },
  },
  {
    name: 'keeps publish order per user, with other users interleaved',
    async run(context) {
      const { bus } = context;
      const first = inbox(context, 'alice subscriber 1');
      const second = inbox(context, 'alice subscriber 2');
      const other = inbox(context, 'bob subscriber');
      await bus.subscribe(ALICE, first.listener);
      await bus.subscribe(ALICE, second.listener);
      await bus.subscribe(BOB, other.listener);
      const expected: FolderId[][] = [];
      for (let index = 0; index < 40; index++) {
        expected.push([String(index)]);
        await bus.publish(ALICE, [String(index)]);
        if (index % 3 === 0) await bus.publish(BOB, [`b${index}`]);
      }
      await first.waitForCount(40);
      await second.waitForCount(40);
      assert.deepEqual(first.folders(), expected);
      assert.deepEqual(second.folders(), expected);
      await other.waitForCount(14);
      assert.deepEqual(
        other.folders(),
        expected.filter((_, index) => index % 3 === 0).map((_, index) => [`b${index * 3}`]),
      );
    },
  },
  {
    name: 'keeps order when a listener publishes for its own user while being called',
    async run(context) {
      const { bus } = context;
      const watcher = inbox(context, 'watcher');
      const publisher = inbox(context, 'publisher');
      await bus.subscribe(ALICE, (event) => {
        publisher.listener(event);
        if (event.folderIds[0] === 'first') return bus.publish(ALICE, ['second']);
      });
      await bus.subscribe(ALICE, watcher.listener);
      await bus.publish(ALICE, ['first']);
      await watcher.waitForCount(2);
      await publisher.waitForCount(2);
      assert.deepEqual(watcher.folders(), [['first'], ['second']]);
      assert.deepEqual(publisher.folders(), [['first'], ['second']]);
    },
  },
  {
    name: 'stops delivering to a subscription once its unsubscribe resolves',
    async run(context) {
      const { bus } = context;
      const leaving = inbox(context, 'unsubscribed');
      const staying = inbox(context, 'still subscribed');
      const unsubscribe = await bus.subscribe(ALICE, leaving.listener);
      await bus.subscribe(ALICE, staying.listener);
      await bus.publish(ALICE, ['before']);
      await leaving.waitForMarker('before');
      await unsubscribe();
      await bus.publish(ALICE, ['after']);
      await staying.waitForMarker('after');
      assert.deepEqual(leaving.folders(), [['before']]);
      assert.deepEqual(staying.folders(), [['before'], ['after']]);
    },
  },
  {
    name: 'unsubscribe is idempotent and ends only its own subscription',
    async run(context) {
      const { bus } = context;
      const received = inbox(context, 'listener subscribed twice');
      const unsubscribeFirst = await bus.subscribe(ALICE, received.listener);
      await bus.subscribe(ALICE, received.listener);
      await bus.publish(ALICE, ['1']);
      await received.waitForCount(2);
      await unsubscribeFirst();
      await unsubscribeFirst();
      await bus.publish(ALICE, ['2']);
      await received.waitForCount(3);
      await bus.publish(ALICE, ['marker']);
      await received.waitForMarker('marker');
      assert.deepEqual(received.folders(), [['1'], ['1'], ['2'], ['marker']]);
    },
  },
  {
    name: 'lets a listener unsubscribe itself while being called',
    async run(context) {
      const { bus } = context;
      const once = inbox(context, 'self-unsubscribing');
      const staying = inbox(context, 'still subscribed');
      let unsubscribe: (() => Promise<void>) | undefined;
      unsubscribe = await bus.subscribe(ALICE, (event) => {
        once.listener(event);
        return unsubscribe?.();
      });
      await bus.subscribe(ALICE, staying.listener);
      await bus.publish(ALICE, ['1']);
      await once.waitForCount(1);
      await staying.waitForCount(1);
      // The unsubscribe started inside the listener has finished once this resolves.
      await unsubscribe();
      await bus.publish(ALICE, ['marker']);
      await staying.waitForMarker('marker');
      assert.deepEqual(once.folders(), [['1']]);
    },
  },
  {
    name: 'isolates listeners that throw or reject from others and from the publisher',
    async run(context) {
      const { bus } = context;
      const calls = { throwing: 0, rejecting: 0 };
      await bus.subscribe(ALICE, () => {
        calls.throwing++;
        throw new Error('listener failed (deliberately)');
      });
      await bus.subscribe(ALICE, async () => {
        calls.rejecting++;
        throw new Error('listener rejected (deliberately)');
      });
      const healthy = inbox(context, 'healthy listener');
      await bus.subscribe(ALICE, healthy.listener);
      await assert.doesNotReject(bus.publish(ALICE, ['1']), 'publish must not fail because of a listener');
      await assert.doesNotReject(bus.publish(ALICE, ['2']), 'publish must not fail because of a listener');
      await healthy.waitForCount(2);
      assert.deepEqual(healthy.folders(), [['1'], ['2']]);
      await waitForCondition(
        context,
        () => calls.throwing === 2 && calls.rejecting === 2,
        'both failing listeners called twice',
      );
    },
  },
  {
    name: 'reports listener errors through its error hook',
    capability: 'errorHook',
    async run(context) {
      const { bus } = context;
      const thrown = new Error('thrown (deliberately)');
      const rejected = new Error('rejected (deliberately)');
      await bus.subscribe(ALICE, () => {
        throw thrown;
      });
      await bus.subscribe(ALICE, () => Promise.reject(rejected));
      await bus.publish(ALICE, ['1']);
      await waitForCondition(context, () => context.reportedErrors.length >= 2, 'two reported errors');
      const errors = context.reportedErrors.map((report) => report.error);
      assert.ok(errors.includes(thrown), 'the synchronous throw is reported');
      assert.ok(errors.includes(rejected), 'the rejection is reported');
      for (const report of context.reportedErrors)
        assert.deepEqual(report.event, { user: ALICE, folderIds: ['1'] });
    },
  },
  {
    name: 'has called local listeners when publish resolves',
    capability: 'immediateDelivery',
    async run(context) {
      const { bus } = context;
      const received: PushEvent[] = [];
      await bus.subscribe(ALICE, (event) => {
        received.push(event);
      });
      await bus.publish(ALICE, ['1']);
      assert.equal(received.length, 1);
    },
  },
  {
    name: 'fans out to many users, each getting exactly its own events',
    async run(context) {
      const { bus } = context;
      const users = Array.from({ length: 30 }, (_, index) => `user${index}@example.com`);
      const inboxes = users.map((user) => inbox(context, user));
      for (const [index, user] of users.entries()) await bus.subscribe(user, inboxes[index]!.listener);
      for (const user of users) await bus.publish(user, [user]);
      for (const user of users) await bus.publish(user, ['marker']);
      for (const each of inboxes) await each.waitForMarker('marker');
      for (const [index, user] of users.entries())
        assert.deepEqual(inboxes[index]!.folders(), [[user], ['marker']]);
    },
  },
  {
    name: 'after close delivers nothing and rejects publish and subscribe; close is idempotent',
    async run(context) {
      const { bus } = context;
      const received = inbox(context, ALICE);
      await bus.subscribe(ALICE, received.listener);
      await bus.close();
      await bus.close();
      await assert.rejects(bus.publish(ALICE, ['1']), isBusClosed);
      await assert.rejects(
        bus.subscribe(ALICE, () => {}),
        isBusClosed,
      );
      assert.deepEqual(received.events, []);
    },
  },
  {
    name: 'delivers between two buses on the same backend, keeping users apart',
    capability: 'crossInstance',
    async run(context) {
      const { bus } = context;
      const peer = await context.peer();
      const onPeer = inbox(context, 'alice on the peer');
      const onBus = inbox(context, 'bob on the first bus');
      await peer.subscribe(ALICE, onPeer.listener);
      await bus.subscribe(BOB, onBus.listener);
      await bus.publish(ALICE, ['from bus']);
      await peer.publish(BOB, ['from peer']);
      await onPeer.waitForMarker('from bus');
      await onBus.waitForMarker('from peer');
      await peer.publish(ALICE, ['marker']);
      await bus.publish(BOB, ['marker']);
      await onPeer.waitForMarker('marker');
      await onBus.waitForMarker('marker');
      assert.deepEqual(onPeer.folders(), [['from bus'], ['marker']]);
      assert.deepEqual(onBus.folders(), [['from peer'], ['marker']]);
    },
  },
];
