import { strict as assert } from 'node:assert';
import type { FolderId, UserId } from '@easkit/mailbox';
import { describe, it } from 'vitest';
import { type ConformanceCheck, createPushBusCheckContext, pushBusChecks } from './conformance.js';
import { PushBusClosedError } from './errors.js';
import { InProcessPushBus } from './in-process.js';
import type { PushBus, PushErrorHandler, PushEvent, PushListener, Unsubscribe } from './push-bus.js';

// The suite must not pass vacuously: every check is run against a bus with one deliberate bug and must fail.
// Expected deliveries that never come fail after this (short) bound instead of the suite's 2 s default.
const timeoutMs = 150;

function check(name: string): ConformanceCheck {
  const found = pushBusChecks.find((each) => each.name.startsWith(name));
  assert.ok(found, `no check named "${name}"`);
  return found;
}

async function runAgainst(
  name: string,
  create: (onError: PushErrorHandler) => PushBus,
  createPeer?: (bus: PushBus) => PushBus,
): Promise<void> {
  const { context, dispose } = await createPushBusCheckContext({
    name: 'meta',
    create: ({ onError }) => create(onError),
    ...(createPeer ? { createPeer } : {}),
    timeoutMs,
  });
  try {
    await check(name).run(context);
  } finally {
    await dispose();
  }
}

/** A deliberately simple bus with switchable bugs, for the bugs a subclass of InProcessPushBus cannot make. */
class FaultyBus implements PushBus {
  subscriptions: Array<{ user: UserId; listener: PushListener; active: boolean }> = [];
  closed = false;

  constructor(
    readonly faults: {
      matches?: (subscribed: UserId, published: UserId) => boolean;
      unsubscribeByFunction?: boolean;
      stopAtFirstError?: boolean;
      sharedArray?: boolean;
      onlyLastSubscriber?: boolean;
      maxUsers?: number;
    } = {},
    readonly onError?: PushErrorHandler,
  ) {}

  async publish(user: UserId, folderIds: readonly FolderId[]): Promise<void> {
    if (this.closed) throw new PushBusClosedError('publish');
    const matches = this.faults.matches ?? ((subscribed, published) => subscribed === published);
    let targets = this.subscriptions.filter((each) => each.active && matches(each.user, user));
    if (this.faults.onlyLastSubscriber) targets = targets.slice(-1);
    if (this.faults.maxUsers !== undefined) {
      const known = [...new Set(this.subscriptions.map((each) => each.user))].slice(0, this.faults.maxUsers);
      if (!known.includes(user)) targets = [];
    }
    const event: PushEvent = { user, folderIds: this.faults.sharedArray ? folderIds : [...folderIds] };
    const deliver = () => {
      for (const target of targets) {
        if (this.faults.stopAtFirstError) {
          target.listener(event);
          continue;
        }
        try {
          void Promise.resolve(target.listener(event)).catch((error) => this.onError?.(error, event));
        } catch (error) {
          this.onError?.(error, event);
        }
      }
    };
    if (this.faults.sharedArray) await Promise.resolve().then(deliver);
    else deliver();
  }

  async subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe> {
    if (this.closed) throw new PushBusClosedError('subscribe');
    const subscription = { user, listener, active: true };
    this.subscriptions.push(subscription);
    return async () => {
      if (this.faults.unsubscribeByFunction) {
        const index = this.subscriptions.findIndex((each) => each.active && each.listener === listener);
        if (index >= 0) this.subscriptions[index]!.active = false;
        return;
      }
      subscription.active = false;
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Two buses over one hub of subscriptions: a working stand-in for a shared backend. */
class HubBus implements PushBus {
  constructor(readonly hub: InProcessPushBus = new InProcessPushBus()) {}
  publish(user: UserId, folderIds: readonly FolderId[], modseq?: number) {
    return this.hub.publish(user, folderIds, modseq);
  }
  subscribe(user: UserId, listener: PushListener) {
    return this.hub.subscribe(user, listener);
  }
  async close() {}
}

describe('the PushBus conformance checks fail against broken buses', () => {
  const cases: Array<[check: string, bug: string, create: (onError: PushErrorHandler) => PushBus]> = [
    [
      'delivers a published event',
      'publish does nothing',
      () =>
        new (class extends InProcessPushBus {
          override async publish() {}
        })(),
    ],
    [
      'delivers a published event',
      'events carry the wrong user',
      () =>
        new (class extends InProcessPushBus {
          override subscribe(user: UserId, listener: PushListener) {
            return super.subscribe(user, (event) => listener({ ...event, user: 'someone-else' }));
          }
        })(),
    ],
    [
      'carries folder ids as published',
      'delivers later, sharing the caller’s array',
      () => new FaultyBus({ sharedArray: true }),
    ],
    [
      'carries the modseq a publisher gives',
      'drops the modseq',
      () =>
        new (class extends InProcessPushBus {
          override publish(user: UserId, folderIds: readonly FolderId[]) {
            return super.publish(user, folderIds);
          }
        })(),
    ],
    [
      'carries the modseq a publisher gives',
      'keeps a modseq on an empty folder list',
      () =>
        new (class extends InProcessPushBus {
          override subscribe(user: UserId, listener: PushListener) {
            return super.subscribe(user, (event) =>
              listener(event.folderIds.length === 0 ? { ...event, modseq: 42 } : event),
            );
          }
        })(),
    ],
    ['carries the modseq a publisher gives', 'accepts any modseq', () => new FaultyBus()],
    [
      'carries folder ids as published',
      'drops empty folder lists',
      () =>
        new (class extends InProcessPushBus {
          override async publish(user: UserId, folderIds: readonly FolderId[]) {
            if (folderIds.length > 0) await super.publish(user, folderIds);
          }
        })(),
    ],
    [
      'carries folder ids as published',
      'removes duplicate folder ids',
      () =>
        new (class extends InProcessPushBus {
          override publish(user: UserId, folderIds: readonly FolderId[]) {
            return super.publish(user, [...new Set(folderIds)]);
          }
        })(),
    ],
    [
      'delivers to every subscriber',
      'only the last subscriber of a user is called',
      () => new FaultyBus({ onlyLastSubscriber: true }),
    ],
    [
      'delivers to every subscriber',
      'every event is delivered twice',
      () =>
        new (class extends InProcessPushBus {
          override async publish(user: UserId, folderIds: readonly FolderId[]) {
            await super.publish(user, folderIds);
            await super.publish(user, folderIds);
          }
        })(),
    ],
    [
      'does not deliver to other users',
      'matches users by prefix',
      () => new FaultyBus({ matches: (subscribed, published) => published.startsWith(subscribed) }),
    ],
    [
      'does not deliver to other users',
      'folds user ids to lower case',
      () =>
        new FaultyBus({
          matches: (subscribed, published) => subscribed.toLowerCase() === published.toLowerCase(),
        }),
    ],
    [
      'does not deliver to other users',
      'treats * in a user id as a wildcard',
      () =>
        new FaultyBus({
          matches: (subscribed, published) =>
            subscribed === published ||
            (subscribed.endsWith('*') && published.startsWith(subscribed.slice(0, -1))),
        }),
    ],
    ['keeps publish order per user', 'swaps every pair of events', () => new SwappingBus()],
    [
      'keeps order when a listener publishes',
      'delivers a nested publish in the middle of the current event',
      () => new FaultyBus(),
    ],
    [
      'stops delivering to a subscription',
      'unsubscribe does nothing',
      () =>
        new (class extends InProcessPushBus {
          override async subscribe(user: UserId, listener: PushListener) {
            await super.subscribe(user, listener);
            return async () => {};
          }
        })(),
    ],
    [
      'unsubscribe is idempotent',
      'unsubscribe removes a subscription of the same function each time it is called',
      () => new FaultyBus({ unsubscribeByFunction: true }),
    ],
    [
      'lets a listener unsubscribe itself',
      'unsubscribe waits for the next event before it takes effect',
      () => new LazyUnsubscribeBus(),
    ],
    [
      'isolates listeners that throw',
      'a throwing listener stops the delivery',
      () => new FaultyBus({ stopAtFirstError: true }),
    ],
    [
      'isolates listeners that throw',
      'a throwing listener is unsubscribed',
      () =>
        new (class extends InProcessPushBus {
          override async subscribe(user: UserId, listener: PushListener) {
            let failed = false;
            return super.subscribe(user, (event) => {
              if (failed) return;
              try {
                const result = listener(event);
                if (result) result.catch(() => (failed = true));
              } catch {
                failed = true;
              }
            });
          }
        })(),
    ],
    ['reports listener errors', 'never reports errors', () => new InProcessPushBus()],
    [
      'reports listener errors',
      'reports only synchronous throws',
      (onError) =>
        new InProcessPushBus({
          onError: (error, event) => {
            if ((error as Error).message.startsWith('thrown')) onError(error, event);
          },
        }),
    ],
    [
      'has called local listeners when publish resolves',
      'delivers on a later turn of the event loop',
      () =>
        new (class extends InProcessPushBus {
          override async publish(user: UserId, folderIds: readonly FolderId[]) {
            setImmediate(() => void super.publish(user, folderIds).catch(() => undefined));
          }
        })(),
    ],
    ['fans out to many users', 'forgets users beyond the first 16', () => new FaultyBus({ maxUsers: 16 })],
    [
      'after close',
      'close does nothing',
      () =>
        new (class extends InProcessPushBus {
          override async close() {}
        })(),
    ],
    [
      'after close',
      'publish after close resolves silently',
      () =>
        new (class extends InProcessPushBus {
          override async publish(user: UserId, folderIds: readonly FolderId[]) {
            await super.publish(user, folderIds).catch(() => undefined);
          }
        })(),
    ],
  ];

  for (const [name, bug, create] of cases) {
    it(`"${name}" fails when ${bug}`, async () => {
      await assert.rejects(runAgainst(name, create), assert.AssertionError);
    });
  }

  it('"delivers between two buses" fails when the peer does not share the backend, passes when it does', async () => {
    const name = 'delivers between two buses';
    await assert.rejects(
      runAgainst(
        name,
        () => new InProcessPushBus(),
        () => new InProcessPushBus(),
      ),
      assert.AssertionError,
    );
    await runAgainst(
      name,
      () => new HubBus(),
      (bus) => new HubBus((bus as HubBus).hub),
    );
  });

  it('has a broken bus for every check', () => {
    const covered = new Set([
      ...cases.map(([name]) => check(name).name),
      check('delivers between two buses').name,
    ]);
    assert.deepEqual(
      pushBusChecks.map((each) => each.name).filter((name) => !covered.has(name)),
      [],
    );
  });
});

/** Holds every odd event back and delivers it after the next one. */
class SwappingBus extends InProcessPushBus {
  #held = new Map<UserId, readonly FolderId[]>();
  override async publish(user: UserId, folderIds: readonly FolderId[]) {
    const held = this.#held.get(user);
    if (!held) {
      this.#held.set(user, folderIds);
      return;
    }
    this.#held.delete(user);
    await super.publish(user, folderIds);
    await super.publish(user, held);
  }
}

/** Marks a subscription for removal and only removes it when the next event comes. */
class LazyUnsubscribeBus extends InProcessPushBus {
  override async subscribe(user: UserId, listener: PushListener) {
    let leaving = false;
    let removeNow: Unsubscribe | undefined;
    removeNow = await super.subscribe(user, (event) => {
      if (leaving) {
        void removeNow?.();
        leaving = false;
      }
      return listener(event);
    });
    return async () => {
      leaving = true;
    };
  }
}
