import type { FolderId, Modseq, UserId } from '@easkit/mailbox';
import {
  type DeviceClaims,
  eventModseq,
  type PushBus,
  PushBusClosedError,
  type PushErrorHandler,
  type PushEvent,
  type PushListener,
  type Unsubscribe,
} from '@easkit/push';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './client.js';
import { checkKeyPrefix, part, userTag } from './keys.js';
import { LuaScript } from './lua.js';

export interface RedisPushBusOptions {
  /** Publishes and runs the claim script. A connection the application made; the bus never closes it. */
  client: RedisClient;
  /**
   * A connection for the bus alone: it is put in subscriber mode, and its `autoResubscribe` is turned off (the
   * bus re-subscribes itself). The application made it and closes it after `close()`. Keep ioredis' reconnect
   * on (its default `retryStrategy` backs off from 50 ms to 2 s). On Redis Cluster: a `Cluster` made with
   * `shardedSubscribers: true` (sharded pub/sub) or a plain `Cluster` (classic).
   */
  subscriber: Redis | Cluster;
  /** Starts every channel and key, e.g. `easkit:`. No braces. Instances that share a prefix share events. */
  keyPrefix: string;
  /**
   * `sharded` (default): SPUBLISH / SSUBSCRIBE (Redis 7+), which Redis Cluster routes to the shard owning the
   * user's channel only. `classic`: PUBLISH / SUBSCRIBE, for Redis 6.
   */
  pubsub?: 'sharded' | 'classic';
  /** Receives what listeners throw or reject with. Quiet by default. */
  onError?: PushErrorHandler;
  /** Receives Redis failures the bus handles itself (a re-subscribe that will be retried, an unsubscribe). */
  onBackendError?: (error: unknown) => void;
  /**
   * How long `publish` waits for Redis before it rejects (the message stays queued in ioredis and goes out when
   * the connection is back). Default 2000 ms, so a mailbox write is not held up by a Redis outage for long.
   */
  publishTimeoutMs?: number;
  /** Back-off of re-subscribing after a reconnect when Redis refuses: first delay, doubled up to `max`. */
  resubscribeBackoffMs?: { initial: number; max: number };
  /** How long a device's claim number is kept after its last claim. Default one day. */
  claimTtlSeconds?: number;
  /**
   * How long a user's channel stays subscribed after its last subscription or claim ended. A device's Ping
   * answer is followed within a second by its Sync and its next Ping; keeping the channel that long spares an
   * UNSUBSCRIBE and a SUBSCRIBE per wake-up (events for a user nobody waits for meanwhile are dropped). Default 0:
   * released at once.
   */
  releaseDelayMs?: number;
}

/** Whose requests an administrator's action ends: one device, all devices of a user, or (empty) everyone. */
export interface InterruptScope {
  user?: UserId;
  deviceId?: string;
}

/** Carries interrupts to every instance of the prefix; see `RedisPushBus.relayInterrupts`. */
export interface InterruptRelay {
  /** Sends `scope` to every instance that relays interrupts, this one included. */
  interrupt(scope: InterruptScope): Promise<void>;
  /** Stops calling this relay's local handler. Idempotent. */
  stop(): Promise<void>;
}

/** What a bus holds right now; for tests, health pages and leak checks. */
export interface RedisPushBusStats {
  /**
   * Users whose channel this instance subscribes to: each with at least one subscription or claim, or idle for
   * less than `releaseDelayMs`.
   */
  users: number;
  subscriptions: number;
  /** Waits of this instance whose claim is stored in Redis (and not yet withdrawn or superseded). */
  claims: number;
  /** Completed re-subscriptions after a lost connection. */
  resyncs: number;
}

interface Subscription {
  readonly listener: PushListener;
  active: boolean;
}

interface Claim {
  readonly deviceId: string;
  /** The claim number Redis gave this wait; undefined while the claim script runs. */
  number: number | undefined;
  /** The highest claim number of the device seen from elsewhere while `number` was unknown. */
  newestSeen: number;
  readonly superseded: () => void;
  active: boolean;
}

interface Channel {
  readonly user: UserId;
  readonly name: string;
  readonly subscriptions: Set<Subscription>;
  readonly claims: Set<Claim>;
  /** Settles when the SUBSCRIBE / SSUBSCRIBE that opened the channel was answered. */
  ready: Promise<void>;
  /** Set while the channel is idle and waits out `releaseDelayMs`. */
  releaseTimer?: NodeJS.Timeout | undefined;
}

const claimScript = new LuaScript('push-claim');

/** A folder-list payload as an event: strings are folder ids, a trailing `{"m": modseq}` the change's modseq. */
function readEvent(user: UserId, payload: unknown[]): PushEvent {
  const last = payload[payload.length - 1] as { m?: unknown } | null | undefined;
  const modseq = typeof last === 'object' && last !== null ? last.m : undefined;
  const carried = typeof modseq === 'number' && Number.isSafeInteger(modseq) && modseq >= 0;
  const folderIds = Object.freeze(
    payload.filter((entry) => typeof entry === 'string' || typeof entry === 'number').map(String),
  );
  return Object.freeze(
    carried && folderIds.length > 0 ? { user, folderIds, modseq: modseq as Modseq } : { user, folderIds },
  );
}

/**
 * A `PushBus` on Redis pub/sub that fans out across server instances, with cross-instance Ping superseding.
 *
 * - One channel per user (`<prefix>push{<user>}`), subscribed while this instance has a subscription or a claim
 *   for the user and released with the last, so an instance listens to the users it has waits for, and Redis
 *   only sends it their events. The payload is the folder id list as JSON, followed by `{"m": modseq}` when the
 *   publisher gave the change's modseq.
 * - After the subscriber connection was lost (Redis restarted, `CLIENT KILL`, network), the bus subscribes
 *   every channel again as soon as ioredis has reconnected, retrying with back-off, and then delivers an event
 *   with an empty folder list to every subscription: "re-read everything". Waits re-read their stores, so a
 *   change published while the bus could not hear it is not lost.
 * - `claim` (the `DeviceClaims` hook of `WaiterRegistry`) ends a device's older wait on another instance: each
 *   claim gets a number from Redis and is announced on the user's channel; a wait ends as `superseded` when a
 *   claim of its device with a higher number arrives, or, after a reconnect, is found stored.
 */
export class RedisPushBus implements PushBus, DeviceClaims {
  readonly #client: RedisClient;
  readonly #subscriber: Redis | Cluster;
  readonly #prefix: string;
  readonly #sharded: boolean;
  readonly #onError: PushErrorHandler | undefined;
  readonly #onBackendError: ((error: unknown) => void) | undefined;
  readonly #publishTimeoutMs: number;
  readonly #backoff: { initial: number; max: number };
  readonly #claimTtlSeconds: number;
  readonly #releaseDelayMs: number;
  readonly #channels = new Map<string, Channel>();
  readonly #interruptHandlers = new Set<(scope: InterruptScope) => void>();
  /** The SUBSCRIBE of the interrupt channel while a relay is active. */
  #interruptReady: Promise<void> | undefined;
  readonly #onMessage = (channel: string, message: string) => this.#receive(channel, message);
  readonly #onClose = () => {
    this.#disconnected = true;
  };
  readonly #onReady = () => {
    if (!this.#disconnected) return;
    this.#disconnected = false;
    void this.#resync();
  };
  #disconnected = false;
  #generation = 0;
  #resyncs = 0;
  #closed = false;

  constructor(options: RedisPushBusOptions) {
    this.#client = options.client;
    this.#subscriber = options.subscriber;
    this.#prefix = checkKeyPrefix(options.keyPrefix);
    this.#sharded = (options.pubsub ?? 'sharded') === 'sharded';
    this.#onError = options.onError;
    this.#onBackendError = options.onBackendError;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 2000;
    this.#backoff = options.resubscribeBackoffMs ?? { initial: 50, max: 5000 };
    this.#claimTtlSeconds = options.claimTtlSeconds ?? 86_400;
    this.#releaseDelayMs = options.releaseDelayMs ?? 0;
    // The bus subscribes its channels again itself after a reconnect (and so knows when that is done). ioredis'
    // own re-subscribe would only duplicate it, and when Redis refuses it, it leaves an unhandled rejection,
    // which ends a Node process by default. The connection is the bus's alone, so the bus turns that off.
    // (A Cluster's subscribers re-subscribe on their own and report failures without rejecting.)
    if (!this.#subscriber.isCluster) (this.#subscriber as Redis).options.autoResubscribe = false;
    this.#subscriber.on(this.#sharded ? 'smessage' : 'message', this.#onMessage);
    this.#subscriber.on('close', this.#onClose);
    this.#subscriber.on('ready', this.#onReady);
  }

  async publish(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): Promise<void> {
    if (this.#closed) throw new PushBusClosedError('publish');
    checkUser(user);
    const carried = eventModseq(modseq, folderIds);
    // The modseq rides as a trailing object: a receiver that predates it turns that into a folder id that
    // nobody watches, so instances of mixed versions still wake each other during a rolling upgrade.
    const payload = JSON.stringify(carried === undefined ? [...folderIds] : [...folderIds, { m: carried }]);
    const name = this.#channelName(user);
    const sent = this.#sharded ? this.#client.spublish(name, payload) : this.#client.publish(name, payload);
    await withTimeout(sent, this.#publishTimeoutMs, `publish to ${name}`);
  }

  async subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe> {
    if (this.#closed) throw new PushBusClosedError('subscribe');
    checkUser(user);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const channel = this.#acquire(user);
    const subscription: Subscription = { listener, active: false };
    channel.subscriptions.add(subscription);
    try {
      await channel.ready;
    } catch (error) {
      channel.subscriptions.delete(subscription);
      await this.#releaseIfIdle(channel);
      throw error;
    }
    if (this.#closed) throw new PushBusClosedError('subscribe');
    subscription.active = true;
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      subscription.active = false;
      channel.subscriptions.delete(subscription);
      await this.#releaseIfIdle(channel);
    };
  }

  /**
   * Announces that a wait of `deviceId` started on this instance. `superseded` is called (once) when a newer
   * wait of the device starts on any instance of this prefix; the returned function withdraws the claim when the
   * wait ends. Resolves once the claim is in Redis and this instance listens for newer ones.
   */
  async claim(user: UserId, deviceId: string, superseded: () => void): Promise<() => void> {
    if (this.#closed) throw new PushBusClosedError('subscribe');
    checkUser(user);
    const channel = this.#acquire(user);
    const claim: Claim = { deviceId, number: undefined, newestSeen: 0, superseded, active: true };
    channel.claims.add(claim);
    const release = () => {
      claim.active = false;
      if (channel.claims.delete(claim)) void this.#releaseIfIdle(channel);
    };
    try {
      // Listen first: a claim made after ours is then announced to us.
      await channel.ready;
      const number = Number(
        await claimScript.run(
          this.#client,
          [this.#claimKey(user, deviceId)],
          [channel.name, part(deviceId), this.#claimTtlSeconds, this.#sharded ? 'sharded' : 'classic'],
        ),
      );
      claim.number = number;
      if (claim.newestSeen > number) this.#supersede(channel, claim);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /**
   * Relays the policy gate's `interrupt` (which ends a device's running requests, its waiting Ping above all,
   * after an administrator blocked, wiped or removed it) to every server instance of this prefix:
   *
   * ```ts
   * const relay = await bus.relayInterrupts((scope) => gate.interrupt(scope));
   * createDeviceAdministration({ devices, interrupt: (scope) => void relay.interrupt(scope) });
   * ```
   *
   * One channel (`<prefix>interrupt`) for the whole deployment, subscribed while a relay is active. An interrupt
   * sent while an instance cannot hear Redis is lost for that instance: its Pings end at their heartbeat, and
   * the gate refuses the device's next request anyway.
   */
  async relayInterrupts(local: (scope: InterruptScope) => void): Promise<InterruptRelay> {
    if (this.#closed) throw new PushBusClosedError('subscribe');
    if (typeof local !== 'function') throw new TypeError('the local interrupt handler must be a function');
    const name = this.#interruptChannel();
    if (this.#interruptHandlers.size === 0 || this.#interruptReady === undefined) {
      this.#interruptReady = this.#subscribeCommand(name);
    }
    const handler = (scope: InterruptScope) => local(scope);
    this.#interruptHandlers.add(handler);
    try {
      await this.#interruptReady;
    } catch (error) {
      this.#interruptHandlers.delete(handler);
      if (this.#interruptHandlers.size === 0) this.#interruptReady = undefined;
      throw error;
    }
    return {
      interrupt: async (scope) => {
        if (this.#closed) throw new PushBusClosedError('publish');
        const message: InterruptScope = {};
        if (scope.user !== undefined) message.user = scope.user;
        if (scope.deviceId !== undefined) message.deviceId = scope.deviceId;
        const payload = JSON.stringify(message);
        const sent = this.#sharded
          ? this.#client.spublish(name, payload)
          : this.#client.publish(name, payload);
        await withTimeout(sent, this.#publishTimeoutMs, `publish to ${name}`);
      },
      stop: async () => {
        if (!this.#interruptHandlers.delete(handler) || this.#interruptHandlers.size > 0) return;
        this.#interruptReady = undefined;
        if (!this.#closed) await this.#unsubscribeCommand(name);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    this.#subscriber.off(this.#sharded ? 'smessage' : 'message', this.#onMessage);
    this.#subscriber.off('close', this.#onClose);
    this.#subscriber.off('ready', this.#onReady);
    const names = [...this.#channels.keys()];
    if (this.#interruptHandlers.size > 0) names.push(this.#interruptChannel());
    this.#interruptHandlers.clear();
    this.#interruptReady = undefined;
    for (const channel of this.#channels.values()) {
      for (const subscription of channel.subscriptions) subscription.active = false;
      for (const claim of channel.claims) claim.active = false;
      if (channel.releaseTimer) clearTimeout(channel.releaseTimer);
    }
    this.#channels.clear();
    await Promise.all(names.map((name) => this.#unsubscribeCommand(name)));
  }

  stats(): RedisPushBusStats {
    let subscriptions = 0;
    let claims = 0;
    for (const channel of this.#channels.values()) {
      subscriptions += channel.subscriptions.size;
      for (const claim of channel.claims) if (claim.number !== undefined) claims++;
    }
    return { users: this.#channels.size, subscriptions, claims, resyncs: this.#resyncs };
  }

  /** The channel of a user, subscribing to it if this instance did not listen to it yet. */
  #acquire(user: UserId): Channel {
    const name = this.#channelName(user);
    const existing = this.#channels.get(name);
    if (existing) {
      if (existing.releaseTimer) clearTimeout(existing.releaseTimer);
      existing.releaseTimer = undefined;
      return existing;
    }
    const channel: Channel = {
      user,
      name,
      subscriptions: new Set(),
      claims: new Set(),
      ready: Promise.resolve(),
    };
    channel.ready = this.#subscribeCommand(name).catch((error: unknown) => {
      // A failed subscribe must not stay cached: the next subscriber tries again.
      if (this.#channels.get(name) === channel) this.#channels.delete(name);
      throw error;
    });
    channel.ready.catch(() => undefined);
    this.#channels.set(name, channel);
    return channel;
  }

  async #releaseIfIdle(channel: Channel, delayed = false): Promise<void> {
    if (channel.subscriptions.size > 0 || channel.claims.size > 0) return;
    if (this.#channels.get(channel.name) !== channel) return;
    if (this.#releaseDelayMs > 0 && !delayed) {
      if (channel.releaseTimer) clearTimeout(channel.releaseTimer);
      channel.releaseTimer = setTimeout(() => {
        channel.releaseTimer = undefined;
        void this.#releaseIfIdle(channel, true);
      }, this.#releaseDelayMs);
      channel.releaseTimer.unref?.();
      return;
    }
    this.#channels.delete(channel.name);
    await this.#unsubscribeCommand(channel.name);
  }

  async #subscribeCommand(name: string): Promise<void> {
    if (this.#sharded) await this.#subscriber.ssubscribe(name);
    else await this.#subscriber.subscribe(name);
  }

  async #unsubscribeCommand(name: string): Promise<void> {
    const sent = (
      this.#sharded ? this.#subscriber.sunsubscribe(name) : this.#subscriber.unsubscribe(name)
    ).then(
      () => undefined,
      (error: unknown) => this.#onBackendError?.(error),
    );
    // While disconnected the command waits in ioredis' queue (it still goes out after the re-subscribe);
    // only wait for it when it can be answered now.
    if (this.#subscriber.status === 'ready') {
      await withTimeout(sent, this.#publishTimeoutMs, `unsubscribe from ${name}`).catch((error: unknown) =>
        this.#onBackendError?.(error),
      );
    }
  }

  #receive(name: string, message: string): void {
    if (name === this.#interruptChannel()) {
      this.#receiveInterrupt(message);
      return;
    }
    const channel = this.#channels.get(name);
    if (!channel) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return; // not ours
    }
    if (Array.isArray(parsed)) {
      this.#deliver(channel, readEvent(channel.user, parsed));
      return;
    }
    const claimed = parsed as { claim?: unknown; n?: unknown } | null;
    if (typeof claimed?.claim !== 'string' || typeof claimed.n !== 'number') return;
    this.#seeClaim(channel, claimed.claim, claimed.n);
  }

  #receiveInterrupt(message: string): void {
    let scope: InterruptScope;
    try {
      const parsed = JSON.parse(message) as { user?: unknown; deviceId?: unknown };
      scope = {};
      if (typeof parsed.user === 'string') scope.user = parsed.user;
      if (typeof parsed.deviceId === 'string') scope.deviceId = parsed.deviceId;
    } catch {
      return;
    }
    for (const handler of [...this.#interruptHandlers]) {
      try {
        handler(scope);
      } catch (error) {
        this.#onBackendError?.(error);
      }
    }
  }

  #seeClaim(channel: Channel, deviceId: string, number: number): void {
    for (const claim of [...channel.claims]) {
      if (claim.deviceId !== deviceId || !claim.active) continue;
      if (claim.number === undefined) claim.newestSeen = Math.max(claim.newestSeen, number);
      else if (number > claim.number) this.#supersede(channel, claim);
    }
  }

  #supersede(channel: Channel, claim: Claim): void {
    if (!claim.active) return;
    claim.active = false;
    if (channel.claims.delete(claim)) void this.#releaseIfIdle(channel);
    try {
      claim.superseded();
    } catch (error) {
      this.#onBackendError?.(error);
    }
  }

  #deliver(channel: Channel, event: PushEvent): void {
    for (const subscription of [...channel.subscriptions]) {
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
      // A failing error hook must not stop delivery.
    }
  }

  /**
   * After a reconnect: subscribe every channel again (ioredis may have done so already; a second SUBSCRIBE of a
   * channel is harmless, and this way the bus knows when it is done), then wake every subscription with an
   * empty folder list and look up the claims that may have been announced while the bus was away.
   */
  async #resync(): Promise<void> {
    const generation = ++this.#generation;
    let delay = this.#backoff.initial;
    for (;;) {
      if (this.#closed || generation !== this.#generation) return;
      try {
        const names = [...this.#channels.keys()];
        if (this.#interruptHandlers.size > 0) names.push(this.#interruptChannel());
        await Promise.all(names.map((name) => this.#subscribeCommand(name)));
        break;
      } catch (error) {
        this.#onBackendError?.(error);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, this.#backoff.max);
      }
    }
    if (this.#closed || generation !== this.#generation) return;
    this.#resyncs++;
    for (const channel of [...this.#channels.values()]) {
      this.#deliver(channel, Object.freeze({ user: channel.user, folderIds: Object.freeze([]) }));
      for (const claim of [...channel.claims]) void this.#recheckClaim(channel, claim);
    }
  }

  async #recheckClaim(channel: Channel, claim: Claim): Promise<void> {
    try {
      const stored = await this.#client.get(this.#claimKey(channel.user, claim.deviceId));
      if (stored !== null) this.#seeClaim(channel, claim.deviceId, Number(stored));
    } catch (error) {
      this.#onBackendError?.(error);
    }
  }

  #interruptChannel(): string {
    return `${this.#prefix}interrupt`;
  }

  #channelName(user: UserId): string {
    return `${this.#prefix}push${userTag(user)}`;
  }

  #claimKey(user: UserId, deviceId: string): string {
    return `${this.#prefix}claim${userTag(user)}${part(deviceId)}`;
  }
}

/** Factory form of {@link RedisPushBus}. */
export function createRedisPushBus(options: RedisPushBusOptions): RedisPushBus {
  return new RedisPushBus(options);
}

function checkUser(user: unknown): asserts user is UserId {
  if (typeof user !== 'string' || user === '') throw new TypeError('user must be a non-empty string');
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
