import type { UserId } from '@easkit/mailbox';
import type { RedisClient } from './client.js';
import { checkKeyPrefix, part, userTag } from './keys.js';
import { LuaScript } from './lua.js';

export interface LockoutOptions {
  /** Failures allowed before the first lock-out. Default 5. */
  freeFailures?: number;
  /** The first lock-out; each further failure doubles it. Default 30 s. */
  firstLockoutMs?: number;
  /** The longest lock-out. Default 15 min. */
  maxLockoutMs?: number;
  /** Failures are forgotten this long after the last one (or when the lock-out ends, if later). Default 15 min. */
  rememberMs?: number;
}

export interface RateOptions {
  /** Requests a device may make per window (and in one burst). Default 120. */
  limit?: number;
  /** Default 60 s. */
  windowMs?: number;
}

export interface RedisCountersOptions {
  /** A connection the application made; never closed here. */
  client: RedisClient;
  /** Starts every key, e.g. `easkit:`. No braces. */
  keyPrefix: string;
  lockout?: LockoutOptions;
  rate?: RateOptions;
  /**
   * The clock in ms. Absent (the default), the scripts read the Redis server's clock, so every instance counts
   * with the same time; tests pass one to move time by hand.
   */
  now?: () => number;
}

export interface LoginState {
  /** Failures remembered for this (user, device). */
  failures: number;
  /** How long the pair stays locked out; 0 when it may try. */
  lockedForMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** When refused: how long until the next request is allowed (for a `Retry-After`). */
  retryAfterMs: number;
}

const failureScript = new LuaScript('login-failure');
const checkScript = new LuaScript('login-check');
const rateScript = new LuaScript('rate-take');

/**
 * Counters every server instance shares, each a small Lua script so that concurrent requests on different
 * instances count exactly:
 *
 * - **Failed-login lock-out per (user, device).** After `freeFailures` failures the pair is locked out for
 *   `firstLockoutMs`, doubled with every further failure up to `maxLockoutMs`; a success clears it. Keyed by
 *   device so that one misconfigured phone does not lock its owner out of every other device.
 * - **Request rate per device.** A token bucket: `limit` requests per `windowMs`, refilled evenly.
 *
 * Keys expire on their own (`rememberMs`, `windowMs`), so idle devices leave nothing behind.
 */
export class RedisCounters {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #lockout: Required<LockoutOptions>;
  readonly #rate: Required<RateOptions>;
  readonly #now: (() => number) | undefined;

  constructor(options: RedisCountersOptions) {
    this.#client = options.client;
    this.#prefix = checkKeyPrefix(options.keyPrefix);
    this.#lockout = {
      freeFailures: options.lockout?.freeFailures ?? 5,
      firstLockoutMs: options.lockout?.firstLockoutMs ?? 30_000,
      maxLockoutMs: options.lockout?.maxLockoutMs ?? 15 * 60_000,
      rememberMs: options.lockout?.rememberMs ?? 15 * 60_000,
    };
    this.#rate = { limit: options.rate?.limit ?? 120, windowMs: options.rate?.windowMs ?? 60_000 };
    for (const [name, value] of Object.entries({ ...this.#lockout, ...this.#rate })) {
      if (!Number.isSafeInteger(value) || value < (name === 'freeFailures' ? 0 : 1)) {
        throw new TypeError(`${name} must be a positive integer`);
      }
    }
    this.#now = options.now;
  }

  /** Whether (user, device) may try to log in now; call before checking the password. */
  async loginState(user: UserId, deviceId: string): Promise<LoginState> {
    const [failures, remaining] = (await checkScript.run(
      this.#client,
      [this.#loginKey(user, deviceId)],
      [this.#clock()],
    )) as [number, string];
    return { failures, lockedForMs: Number(remaining) };
  }

  /** Counts a failed login and returns the resulting state (locked out once the free failures are used). */
  async loginFailed(user: UserId, deviceId: string): Promise<LoginState> {
    const { freeFailures, firstLockoutMs, maxLockoutMs, rememberMs } = this.#lockout;
    const [failures, lock] = (await failureScript.run(
      this.#client,
      [this.#loginKey(user, deviceId)],
      [this.#clock(), freeFailures, firstLockoutMs, maxLockoutMs, rememberMs],
    )) as [number, string];
    return { failures, lockedForMs: Number(lock) };
  }

  /** A successful login forgets the pair's failures. */
  async loginSucceeded(user: UserId, deviceId: string): Promise<void> {
    await this.#client.del(this.#loginKey(user, deviceId));
  }

  /** Takes one request from the device's allowance. */
  async takeRequest(user: UserId, deviceId: string): Promise<RateDecision> {
    const [allowed, remaining, wait] = (await rateScript.run(
      this.#client,
      [this.#rateKey(user, deviceId)],
      [this.#clock(), this.#rate.limit, this.#rate.windowMs],
    )) as [number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs: wait };
  }

  #clock(): string {
    return this.#now ? String(Math.floor(this.#now())) : '';
  }

  #loginKey(user: UserId, deviceId: string): string {
    return `${this.#prefix}login${userTag(user)}${part(deviceId)}`;
  }

  #rateKey(user: UserId, deviceId: string): string {
    return `${this.#prefix}rate${userTag(user)}${part(deviceId)}`;
  }
}

/** Factory form of {@link RedisCounters}. */
export function createRedisCounters(options: RedisCountersOptions): RedisCounters {
  return new RedisCounters(options);
}
