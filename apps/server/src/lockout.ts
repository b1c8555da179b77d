/**
 * Failed-login lockout. Keyed by the account name as typed plus the device, not by source address: clients
 * relayed through a cloud service (Outlook mobile) share addresses, and an attacker trying one account from many
 * addresses is still counted per account. Unknown accounts are counted exactly like real ones, so lockout tells
 * nobody which accounts exist.
 */
export interface LoginThrottle {
  /** How long the account name is still locked on this device, in milliseconds (0: not locked). */
  lockedFor(account: string, deviceId: string): Promise<number>;
  /** Records a failed attempt; returns the lock now in force (0 when not yet locked). */
  failure(account: string, deviceId: string): Promise<number>;
  /** A successful login clears the failures. */
  success(account: string, deviceId: string): Promise<void>;
}

export interface LockoutPolicy {
  /** Failures within `windowMs` before the first lock. Default 5. */
  threshold: number;
  /** Failures older than this are forgotten. Default 15 minutes. */
  windowMs: number;
  /** The first lock; each further failure while over the threshold doubles it. Default 30 s. */
  baseLockMs: number;
  /** The longest lock. Default 1 hour. */
  maxLockMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = {
  threshold: 5,
  windowMs: 15 * 60_000,
  baseLockMs: 30_000,
  maxLockMs: 60 * 60_000,
};

/** The lock that `failures` failures earn under `policy` (0 below the threshold). */
export function lockDuration(failures: number, policy: LockoutPolicy): number {
  if (failures < policy.threshold) return 0;
  const doublings = Math.min(failures - policy.threshold, 30);
  return Math.min(policy.baseLockMs * 2 ** doublings, policy.maxLockMs);
}

interface Entry {
  failures: number;
  firstFailureAt: number;
  lockedUntil: number;
}

/**
 * The in-process throttle, for a single instance. Bounded: at most `maxKeys` keys are tracked (the oldest are
 * forgotten first), so a flood of made-up account names cannot grow memory without limit.
 */
export class MemoryLoginThrottle implements LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #policy: LockoutPolicy;
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(options: { policy?: Partial<LockoutPolicy>; now?: () => number; maxKeys?: number } = {}) {
    this.#policy = { ...DEFAULT_LOCKOUT, ...options.policy };
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  async lockedFor(account: string, deviceId: string): Promise<number> {
    const entry = this.#entries.get(throttleKey(account, deviceId));
    return entry ? Math.max(0, entry.lockedUntil - this.#now()) : 0;
  }

  async failure(account: string, deviceId: string): Promise<number> {
    const key = throttleKey(account, deviceId);
    const now = this.#now();
    let entry = this.#entries.get(key);
    if (!entry || (now - entry.firstFailureAt > this.#policy.windowMs && entry.lockedUntil <= now)) {
      entry = { failures: 0, firstFailureAt: now, lockedUntil: 0 };
    }
    entry.failures += 1;
    const lock = lockDuration(entry.failures, this.#policy);
    if (lock > 0) entry.lockedUntil = now + lock;
    // Re-insert so the Map's order is least recently failed first.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxKeys) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return lock;
  }

  async success(account: string, deviceId: string): Promise<void> {
    this.#entries.delete(throttleKey(account, deviceId));
  }
}

/** The throttle key of an attempt: the account name as the device spelled it (case-folded) and the device. */
export function throttleKey(account: string, deviceId: string): string {
  return `${normalizeAccount(account)}\u0000${deviceId}`;
}

/** The account name as the throttle counts it: trimmed and case-folded. */
export function normalizeAccount(account: string): string {
  return account.trim().toLowerCase();
}

/** The counters of @easkit/storage-redis, shared by every instance, as a {@link LoginThrottle}. */
export function sharedLoginThrottle(counters: {
  loginState(user: string, deviceId: string): Promise<{ lockedForMs: number }>;
  loginFailed(user: string, deviceId: string): Promise<{ lockedForMs: number }>;
  loginSucceeded(user: string, deviceId: string): Promise<void>;
}): LoginThrottle {
  return {
    lockedFor: async (account, deviceId) =>
      (await counters.loginState(normalizeAccount(account), deviceId)).lockedForMs,
    failure: async (account, deviceId) =>
      (await counters.loginFailed(normalizeAccount(account), deviceId)).lockedForMs,
    success: (account, deviceId) => counters.loginSucceeded(normalizeAccount(account), deviceId),
  };
}
