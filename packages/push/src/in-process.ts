import type { FolderId, Modseq, UserId } from '@easkit/mailbox';
import { PushBusClosedError } from './errors.js';
import {
  eventModseq,
  type PushBus,
  type PushErrorHandler,
  type PushEvent,
  type PushListener,
  type Unsubscribe,
} from './push-bus.js';

export interface InProcessPushBusOptions {
  /** Receives what a listener throws or rejects with. Without it such errors are dropped silently. */
  onError?: PushErrorHandler;
}

/** What an `InProcessPushBus` holds right now; for tests and health pages. */
export interface InProcessPushBusStats {
  /** Users with at least one subscription. */
  users: number;
  /** Subscriptions across all users. */
  subscriptions: number;
}

interface Subscription {
  readonly listener: PushListener;
  active: boolean;
}

/**
 * A `PushBus` inside one process, for the embedded deployment and for tests. Delivery is synchronous: when
 * `publish` resolves, every listener subscribed at that moment has been called.
 *
 * Per-user order also holds when a listener publishes for its own user while being called: that event is queued
 * and delivered to everyone right after the current one, never in the middle of it. A user's entry is dropped as
 * soon as its last subscription ends, so a bus that sees many users does not grow.
 */
export class InProcessPushBus implements PushBus {
  readonly #subscriptions = new Map<UserId, Set<Subscription>>();
  /** Users whose events are being delivered right now, with the events queued behind the current one. */
  readonly #delivering = new Map<UserId, PushEvent[]>();
  readonly #onError: PushErrorHandler | undefined;
  #closed = false;

  constructor(options: InProcessPushBusOptions = {}) {
    this.#onError = options.onError;
  }

  async publish(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): Promise<void> {
    if (this.#closed) throw new PushBusClosedError('publish');
    checkUser(user);
    const carried = eventModseq(modseq, folderIds);
    const frozen = Object.freeze([...folderIds]);
    const event: PushEvent = Object.freeze(
      carried === undefined ? { user, folderIds: frozen } : { user, folderIds: frozen, modseq: carried },
    );
    const queued = this.#delivering.get(user);
    if (queued) {
      // Called from a listener of the same user: finish the current event first.
      queued.push(event);
      return;
    }
    const queue = [event];
    this.#delivering.set(user, queue);
    try {
      for (let next = queue.shift(); next; next = queue.shift()) this.#deliver(next);
    } finally {
      this.#delivering.delete(user);
    }
  }

  async subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe> {
    if (this.#closed) throw new PushBusClosedError('subscribe');
    checkUser(user);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#subscriptions.get(user);
    if (!set) {
      set = new Set();
      this.#subscriptions.set(user, set);
    }
    const subscription: Subscription = { listener, active: true };
    set.add(subscription);
    const owner = set;
    return async () => {
      if (!subscription.active) return;
      subscription.active = false;
      owner.delete(subscription);
      if (owner.size === 0 && this.#subscriptions.get(user) === owner) this.#subscriptions.delete(user);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const set of this.#subscriptions.values()) {
      for (const subscription of set) subscription.active = false;
    }
    this.#subscriptions.clear();
  }

  /** Counts of what the bus holds, to check that nothing leaks. */
  stats(): InProcessPushBusStats {
    let subscriptions = 0;
    for (const set of this.#subscriptions.values()) subscriptions += set.size;
    return { users: this.#subscriptions.size, subscriptions };
  }

  #deliver(event: PushEvent): void {
    const set = this.#subscriptions.get(event.user);
    if (!set) return;
    // A snapshot: who subscribes during this delivery waits for the next event; who unsubscribes is skipped.
    for (const subscription of [...set]) {
      if (!subscription.active) continue;
      try {
        const result = subscription.listener(event);
        if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.#report(error, event));
      } catch (error) {
        this.#report(error, event);
      }
    }
  }

  #report(error: unknown, event: PushEvent): void {
    try {
      this.#onError?.(error, event);
    } catch {
      // The error hook failing must not stop delivery either.
    }
  }
}

function checkUser(user: unknown): asserts user is UserId {
  if (typeof user !== 'string' || user === '') throw new TypeError('user must be a non-empty string');
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
