import { createHash } from 'node:crypto';
import type { FolderId, Modseq, UserId } from '@easkit/mailbox';
import {
  eventModseq,
  type PushBus,
  PushBusClosedError,
  type PushErrorHandler,
  type PushEvent,
  type PushListener,
  type Unsubscribe,
} from '@easkit/push';
import type { Database, Listening, SqlExecutor } from './database.js';

/** The channel every easkit instance listens on unless told otherwise. */
export const DEFAULT_PUSH_CHANNEL = 'easkit_push';

/**
 * The largest NOTIFY payload this package sends, in UTF-8 bytes. PostgreSQL refuses payloads of 8000 bytes or
 * more in its default build; the SQL function `easkit_notify_push` applies the same limit.
 */
export const MAX_PUSH_PAYLOAD_BYTES = 7999;

const CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The payload of one wake-up on the channel, as JSON text. Three forms, from the most to the least precise:
 *
 * - `{"u": user, "f": [folderIds]}`: these folders of this user changed; with `"m": modseq` when the publisher
 *   gave the modseq the change took (`PushEvent.modseq`);
 * - `{"u": user, "f": []}`: when the folder list would not fit, "something of this user changed" (a waiter then
 *   re-reads every folder it watches, which is what an empty list means in the `PushBus` contract);
 * - `{"h": sha256-hex of the user id in UTF-8}`: when not even the user id fits; a listener matches it against
 *   the users it has subscribers for and delivers an empty folder list.
 *
 * Other programs may send the same payloads (the SQL function `easkit_notify_push` builds them).
 */
export function pushPayload(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): string {
  const carried = eventModseq(modseq, folderIds);
  const full = JSON.stringify(
    carried === undefined ? { u: user, f: folderIds } : { u: user, f: folderIds, m: carried },
  );
  if (Buffer.byteLength(full, 'utf8') <= MAX_PUSH_PAYLOAD_BYTES) return full;
  const short = JSON.stringify({ u: user, f: [] });
  if (Buffer.byteLength(short, 'utf8') <= MAX_PUSH_PAYLOAD_BYTES) return short;
  return JSON.stringify({ h: userHash(user) });
}

/** The digest that stands for a user id too long for a NOTIFY payload. */
export function userHash(user: UserId): string {
  return createHash('sha256').update(user, 'utf8').digest('hex');
}

/**
 * Queues a wake-up on the executor's connection: `pg_notify(channel, pushPayload(...))`. Inside a transaction
 * PostgreSQL delivers it when the transaction commits and drops it on rollback, so a store can call this with
 * its transaction's executor and devices are woken exactly when the write becomes visible, never for a write
 * that did not happen.
 */
export async function notifyPush(
  executor: SqlExecutor,
  user: UserId,
  folderIds: readonly FolderId[],
  options: { channel?: string; modseq?: Modseq } = {},
): Promise<void> {
  const channel = checkChannel(options.channel ?? DEFAULT_PUSH_CHANNEL);
  await executor.query('SELECT pg_notify($1, $2)', [channel, pushPayload(user, folderIds, options.modseq)]);
}

/**
 * Turns on (or off) the trigger that wakes a user's devices whenever their mailbox modseq moves, whoever wrote
 * the change: for deployments where other programs write the mailbox tables directly (migration
 * `0005_mailbox_push` explains the trade-off). Idempotent. The wake-ups carry an empty folder list and go to the
 * default channel `easkit_push`.
 */
export async function setMailboxPushTrigger(executor: SqlExecutor, enabled: boolean): Promise<void> {
  await executor.query(
    enabled
      ? `CREATE OR REPLACE TRIGGER easkit_mailbox_push AFTER UPDATE OF modseq ON easkit_mailbox_users
           FOR EACH ROW WHEN (NEW.modseq IS DISTINCT FROM OLD.modseq) EXECUTE FUNCTION easkit_mailbox_push()`
      : 'DROP TRIGGER IF EXISTS easkit_mailbox_push ON easkit_mailbox_users',
  );
}

export interface PgPushBusOptions {
  /** The database every instance shares. The bus opens one LISTEN connection on it, on the first subscribe. */
  database: Database;
  /** The NOTIFY channel (lower-case letters, digits, `_`; at most 63). Default `easkit_push`. */
  channel?: string;
  /** Receives what a listener throws or rejects with. Without it such errors are dropped. */
  onError?: PushErrorHandler;
  /** The LISTEN connection was lost: events may be missed until it is back. For logs and health checks. */
  onDisconnect?: (error: Error) => void;
  /** The LISTEN connection is back, and every subscriber has been sent a re-check event. */
  onReconnect?: () => void;
}

/** What a `PgPushBus` holds right now; for tests and health pages. */
export interface PgPushBusStats {
  users: number;
  subscriptions: number;
  /** Whether the LISTEN connection is open (false before the first subscribe and while reconnecting). */
  listening: boolean;
  /** Payloads on the channel that were not wake-ups this bus understands (ignored). */
  malformed: number;
}

interface Subscription {
  readonly listener: PushListener;
  active: boolean;
}

/**
 * A `PushBus` on PostgreSQL LISTEN/NOTIFY (or PGlite's, within one process). `publish` is a `pg_notify` on one
 * channel; each bus listens on that channel over one connection and hands every notification to its local
 * subscribers of that user. Every instance therefore receives every wake-up of the channel and drops those of
 * users it has no subscriber for: cheap at the rates of mail delivery (a small JSON parse each); beyond some
 * thousands of wake-ups a second, use the Redis bus or give groups of users their own channels.
 *
 * Delivery goes through the database even inside one process (the publisher's own subscribers hear it from
 * their LISTEN connection), so events reach listeners after `publish` resolves, in publish order per user.
 *
 * When the LISTEN connection is lost, events published until it is back are lost with it. Once it listens
 * again, the bus sends every current subscription an event with an empty folder list, which the contract
 * defines as "something changed, re-read every folder you watch": the `WaiterRegistry` then re-runs each
 * waiter's `hasChanges`, so no change is missed across the gap.
 */
export class PgPushBus implements PushBus {
  readonly #database: Database;
  readonly #channel: string;
  readonly #options: PgPushBusOptions;
  readonly #subscriptions = new Map<UserId, Set<Subscription>>();
  readonly #hashes = new Map<UserId, string>();
  #listening: Promise<Listening> | undefined;
  #connected = false;
  #malformed = 0;
  #closed = false;

  constructor(options: PgPushBusOptions) {
    this.#database = options.database;
    this.#channel = checkChannel(options.channel ?? DEFAULT_PUSH_CHANNEL);
    this.#options = options;
  }

  /** The channel this bus publishes and listens on. */
  get channel(): string {
    return this.#channel;
  }

  async publish(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): Promise<void> {
    if (this.#closed) throw new PushBusClosedError('publish');
    checkUser(user);
    await notifyPush(this.#database, user, [...folderIds], {
      channel: this.#channel,
      ...(modseq === undefined ? {} : { modseq }),
    });
  }

  async subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe> {
    if (this.#closed) throw new PushBusClosedError('subscribe');
    checkUser(user);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    await this.#listen();
    if (this.#closed) throw new PushBusClosedError('subscribe');
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
      if (owner.size === 0 && this.#subscriptions.get(user) === owner) {
        this.#subscriptions.delete(user);
        this.#hashes.delete(user);
      }
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const set of this.#subscriptions.values()) {
      for (const subscription of set) subscription.active = false;
    }
    this.#subscriptions.clear();
    this.#hashes.clear();
    const listening = this.#listening;
    this.#listening = undefined;
    this.#connected = false;
    if (listening) await (await listening.catch(() => undefined))?.close();
  }

  stats(): PgPushBusStats {
    let subscriptions = 0;
    for (const set of this.#subscriptions.values()) subscriptions += set.size;
    return {
      users: this.#subscriptions.size,
      subscriptions,
      listening: this.#connected,
      malformed: this.#malformed,
    };
  }

  /** Opens the LISTEN connection once; a failed attempt is forgotten so the next subscribe tries again. */
  #listen(): Promise<Listening> {
    if (!this.#listening) {
      const attempt = this.#database.listen(this.#channel, (payload) => this.#onNotification(payload), {
        onDisconnect: (error) => {
          this.#connected = false;
          this.#options.onDisconnect?.(error);
        },
        onReconnect: () => {
          this.#connected = true;
          this.#recheckAll();
          this.#options.onReconnect?.();
        },
      });
      this.#listening = attempt;
      attempt.then(
        (listening) => {
          if (this.#closed) {
            void listening.close();
            return;
          }
          this.#connected = true;
        },
        () => {
          if (this.#listening === attempt) this.#listening = undefined;
        },
      );
    }
    return this.#listening;
  }

  #onNotification(payload: string): void {
    if (this.#closed) return;
    let message: unknown;
    try {
      message = JSON.parse(payload);
    } catch {
      this.#malformed++;
      return;
    }
    const { u, f, h, m } = (message ?? {}) as { u?: unknown; f?: unknown; h?: unknown; m?: unknown };
    if (typeof u === 'string' && u !== '') {
      const folderIds = Array.isArray(f) && f.every((id) => typeof id === 'string') ? (f as FolderId[]) : [];
      const modseq = typeof m === 'number' && Number.isSafeInteger(m) && m >= 0 ? m : undefined;
      this.#deliver(u, folderIds, modseq);
      return;
    }
    if (typeof h === 'string') {
      for (const user of [...this.#subscriptions.keys()]) {
        if (this.#hashOf(user) === h) this.#deliver(user, []);
      }
      return;
    }
    this.#malformed++;
  }

  /** After a reconnect: tell every subscriber that something may have changed while nobody listened. */
  #recheckAll(): void {
    for (const user of [...this.#subscriptions.keys()]) this.#deliver(user, []);
  }

  #hashOf(user: UserId): string {
    let hash = this.#hashes.get(user);
    if (hash === undefined) {
      hash = userHash(user);
      this.#hashes.set(user, hash);
    }
    return hash;
  }

  #deliver(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): void {
    const set = this.#subscriptions.get(user);
    if (!set) return;
    const frozen = Object.freeze([...folderIds]);
    const event: PushEvent = Object.freeze(
      modseq === undefined || frozen.length === 0
        ? { user, folderIds: frozen }
        : { user, folderIds: frozen, modseq },
    );
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
      this.#options.onError?.(error, event);
    } catch {
      // The error hook failing must not stop delivery either.
    }
  }
}

function checkChannel(channel: string): string {
  if (!CHANNEL_PATTERN.test(channel)) {
    throw new TypeError(
      `push channel must be 1-63 lower-case letters, digits or _, got ${JSON.stringify(channel)}`,
    );
  }
  return channel;
}

function checkUser(user: unknown): asserts user is UserId {
  if (typeof user !== 'string' || user === '') throw new TypeError('user must be a non-empty string');
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
