import type { FolderId, Modseq, UserId } from '@easkit/mailbox';
import type { PushBus, PushEvent, Unsubscribe } from './push-bus.js';

/** How a wait ended. */
export type WaitOutcome =
  /** `hasChanges` reported these folders (never empty). */
  | { readonly kind: 'changed'; readonly folderIds: readonly FolderId[] }
  /** The heartbeat ran out with no change. */
  | { readonly kind: 'timeout' }
  /** A newer wait of the same device took this one's place. */
  | { readonly kind: 'superseded' }
  /** The registry was closed (server shutdown). */
  | { readonly kind: 'shutdown' }
  /** The request's `signal` fired: its connection closed, nobody is left to answer. */
  | { readonly kind: 'cancelled' };

export interface WaitRequest {
  readonly user: UserId;
  /** The EAS `DeviceId`. One device has at most one wait: a new one supersedes the older. */
  readonly deviceId: string;
  /** The folders watched. Bus events naming none of them are ignored without calling `hasChanges`. */
  readonly folderIds: readonly FolderId[];
  /** How long to wait for a change before answering `timeout`. */
  readonly heartbeatMs: number;
  /**
   * Reads the stores and returns the watched folders that changed for this device (empty: none). Called once
   * right after the bus subscription is active (so a change made before or during subscribing is not lost),
   * and again for every bus event that concerns the wait. `hint` is the watched folders the event named, or
   * `undefined` when every watched folder (and the hierarchy) must be re-read: the first call, and events
   * with an empty folder list. Calls for one wait never overlap; events arriving during a call are merged
   * into one further call. A rejection ends the wait: `wait` rejects with the same error.
   *
   * `modseqs` comes with every hint: for each hinted folder whose events (all of them since the previous call)
   * carried a modseq ({@link PushEvent.modseq}), the highest one. Such a folder has changed at that modseq
   * and, as far as the bus knows, at no later one, so a caller that holds the device's cursor for it can decide
   * without reading the store: changed when the modseq is above the cursor. Hinted folders missing from the
   * map must be read.
   */
  readonly hasChanges: (
    hint: readonly FolderId[] | undefined,
    modseqs?: ReadonlyMap<FolderId, Modseq>,
  ) => Promise<readonly FolderId[]>;
  /**
   * Aborted when the waiting request's connection closes: the wait ends at once with `cancelled`, and its
   * timer, registry entry and (when it was the user's last wait) bus subscription go with it.
   */
  readonly signal?: AbortSignal;
}

/** A timer source, for tests that drive heartbeats by hand. Defaults to `setTimeout` / `clearTimeout`. */
export interface WaiterTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * Superseding across server instances: announces that a device now waits on this instance, so that its older
 * wait on another instance ends. Within one process the registry supersedes by itself and needs none;
 * `RedisPushBus` from `@easkit/storage-redis` implements it for instances that share a Redis.
 */
export interface DeviceClaims {
  /**
   * Called when a wait starts. Calls `superseded` (at most once) when a newer wait of the same device starts on
   * another instance. Resolves to a function that withdraws the claim, which the registry calls when the wait
   * ends. A rejection is reported to the registry's `onError`; the wait goes on without cross-instance
   * superseding.
   */
  claim(user: UserId, deviceId: string, superseded: () => void): Promise<() => void>;
}

export interface WaiterRegistryOptions {
  readonly bus: PushBus;
  readonly timers?: WaiterTimers;
  /** Receives errors of unsubscribing from the bus and of `claims` (the registry carries on). Quiet by default. */
  readonly onError?: (error: unknown) => void;
  /** Told how every wait ended (for metrics: `changed` is a push wake-up). */
  readonly onOutcome?: (outcome: WaitOutcome) => void;
  /** Ends a device's older wait on other server instances when a new one starts here. None by default. */
  readonly claims?: DeviceClaims;
}

/** What the registry holds right now; for tests, health pages and leak checks. */
export interface WaiterRegistryStats {
  /** Users with at least one wait, each with one bus subscription. */
  readonly users: number;
  readonly waiters: number;
}

interface Waiter {
  readonly request: WaitRequest;
  readonly resolve: (outcome: WaitOutcome) => void;
  readonly reject: (error: unknown) => void;
  timer: unknown;
  done: boolean;
  /** A `hasChanges` call is running. */
  checking: boolean;
  /**
   * Events came in during the running call: `undefined` = re-read all, a map = these folders, each with the
   * highest modseq its events carried (`null` when one of them carried none).
   */
  queued: Hint | undefined | null;
  onAbort: (() => void) | undefined;
  /** Withdraws the wait's cross-instance claim (see `DeviceClaims`). */
  release: (() => void) | undefined;
}

/** The folders one `hasChanges` call is about, each with its newest event modseq (`null`: not known). */
type Hint = Map<FolderId, Modseq | null>;

/** Adds the folders of one event to `hint`, keeping the highest modseq, or `null` once one event had none. */
function addToHint(hint: Hint, folderIds: Iterable<FolderId>, modseq: Modseq | null): Hint {
  for (const id of folderIds) {
    const known = hint.get(id);
    if (known === undefined) hint.set(id, modseq);
    else if (known !== null) hint.set(id, modseq === null ? null : Math.max(known, modseq));
  }
  return hint;
}

interface UserEntry {
  readonly waiters: Map<string, Waiter>;
  /** Resolves to the bus subscription once active (undefined if subscribing failed). */
  subscription: Promise<Unsubscribe | undefined>;
}

const defaultTimers: WaiterTimers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The hanging requests of Direct Push (Ping, and Sync with Wait or HeartbeatInterval) in one process: each
 * waits until one of its folders changes, its heartbeat runs out, a newer request of the same device takes
 * its place, or the server shuts down.
 *
 * Cost stays flat with the number of waiting devices: one bus subscription per user (shared by that user's
 * devices, dropped with the user's last wait), one timer and one small record per wait, and an event only
 * touches the waits of its own user. A wait re-reads the stores right after its user's subscription is
 * active, so a change that landed before the request (or while subscribing) answers at once.
 *
 * Superseding is per process; across server instances it takes a `DeviceClaims` (option `claims`).
 */
export class WaiterRegistry {
  readonly #bus: PushBus;
  readonly #timers: WaiterTimers;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #onOutcome: ((outcome: WaitOutcome) => void) | undefined;
  readonly #claims: DeviceClaims | undefined;
  readonly #users = new Map<UserId, UserEntry>();
  #closed = false;

  constructor(options: WaiterRegistryOptions) {
    this.#bus = options.bus;
    this.#timers = options.timers ?? defaultTimers;
    this.#onError = options.onError;
    this.#onOutcome = options.onOutcome;
    this.#claims = options.claims;
  }

  /**
   * Waits for a change of one of `request.folderIds`. Resolves with how the wait ended; rejects only when
   * `hasChanges` rejects or the bus refuses the subscription. After `close()` it resolves `shutdown` at once.
   */
  wait(request: WaitRequest): Promise<WaitOutcome> {
    if (this.#closed) return Promise.resolve({ kind: 'shutdown' });
    if (request.signal?.aborted) return Promise.resolve({ kind: 'cancelled' });
    return new Promise<WaitOutcome>((resolve, reject) => {
      const waiter: Waiter = {
        request,
        resolve,
        reject,
        timer: undefined,
        done: false,
        checking: false,
        queued: null,
        onAbort: undefined,
        release: undefined,
      };
      let entry = this.#users.get(request.user);
      if (entry) {
        const older = entry.waiters.get(request.deviceId);
        if (older) this.#finish(older, { kind: 'superseded' });
        // Finishing the older wait may have dropped the entry (it was the user's last wait).
        entry = this.#users.get(request.user);
      }
      if (!entry) entry = this.#subscribe(request.user);
      entry.waiters.set(request.deviceId, waiter);
      waiter.timer = this.#timers.set(() => this.#finish(waiter, { kind: 'timeout' }), request.heartbeatMs);
      if (request.signal) {
        const onAbort = () => this.#finish(waiter, { kind: 'cancelled' });
        waiter.onAbort = onAbort;
        request.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (this.#claims) this.#claim(this.#claims, waiter);
      entry.subscription.then(
        (unsubscribe) => {
          if (waiter.done) return;
          if (unsubscribe === undefined) {
            this.#fail(waiter, new Error(`could not subscribe to the push bus for ${request.user}`));
            return;
          }
          this.#check(waiter, undefined);
        },
        (error: unknown) => this.#fail(waiter, error),
      );
    });
  }

  /** Answers every wait with `shutdown` and ends the registry's bus subscriptions. The bus stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#users.values()];
    for (const entry of entries) {
      for (const waiter of [...entry.waiters.values()]) this.#finish(waiter, { kind: 'shutdown' });
    }
    await Promise.all(entries.map((entry) => this.#unsubscribe(entry)));
  }

  stats(): WaiterRegistryStats {
    let waiters = 0;
    for (const entry of this.#users.values()) waiters += entry.waiters.size;
    return { users: this.#users.size, waiters };
  }

  #claim(claims: DeviceClaims, waiter: Waiter): void {
    const { user, deviceId } = waiter.request;
    let claiming: Promise<() => void>;
    try {
      claiming = claims.claim(user, deviceId, () => this.#finish(waiter, { kind: 'superseded' }));
    } catch (error) {
      claiming = Promise.reject(error);
    }
    claiming.then(
      (release) => {
        if (waiter.done) this.#release(release);
        else waiter.release = release;
      },
      (error: unknown) => this.#onError?.(error),
    );
  }

  #release(release: () => void): void {
    try {
      release();
    } catch (error) {
      this.#onError?.(error);
    }
  }

  #subscribe(user: UserId): UserEntry {
    const entry: UserEntry = { waiters: new Map(), subscription: Promise.resolve(undefined) };
    entry.subscription = this.#bus.subscribe(user, (event) => this.#onEvent(entry, event));
    // A failed subscription fails the waits that share it (each handles the rejection); nothing else leaks.
    entry.subscription.catch(() => undefined);
    this.#users.set(user, entry);
    return entry;
  }

  async #unsubscribe(entry: UserEntry): Promise<void> {
    try {
      await (await entry.subscription.catch(() => undefined))?.();
    } catch (error) {
      this.#onError?.(error);
    }
  }

  #onEvent(entry: UserEntry, event: PushEvent): void {
    const modseq = typeof event.modseq === 'number' ? event.modseq : null;
    for (const waiter of entry.waiters.values()) {
      if (event.folderIds.length === 0) {
        this.#check(waiter, undefined);
        continue;
      }
      const watched = waiter.request.folderIds;
      const named = event.folderIds.filter((id) => watched.includes(id));
      if (named.length > 0) this.#check(waiter, addToHint(new Map(), named, modseq));
    }
  }

  /** Runs `hasChanges` for a waiter, or queues the hint behind the call already running. */
  #check(waiter: Waiter, hint: Hint | undefined): void {
    if (waiter.done) return;
    if (waiter.checking) {
      if (hint === undefined || waiter.queued === undefined) waiter.queued = undefined;
      else if (waiter.queued === null) waiter.queued = hint;
      else for (const [id, modseq] of hint) addToHint(waiter.queued, [id], modseq);
      return;
    }
    waiter.checking = true;
    let call: Promise<readonly FolderId[]>;
    try {
      if (hint === undefined) {
        call = Promise.resolve(waiter.request.hasChanges(undefined));
      } else {
        const modseqs = new Map<FolderId, Modseq>();
        for (const [id, modseq] of hint) if (modseq !== null) modseqs.set(id, modseq);
        call = Promise.resolve(waiter.request.hasChanges([...hint.keys()], modseqs));
      }
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(
      (changed) => {
        waiter.checking = false;
        if (waiter.done) return;
        if (changed.length > 0) {
          this.#finish(waiter, { kind: 'changed', folderIds: [...changed] });
          return;
        }
        const queued = waiter.queued;
        if (queued !== null) {
          waiter.queued = null;
          this.#check(waiter, queued);
        }
      },
      (error: unknown) => {
        waiter.checking = false;
        this.#fail(waiter, error);
      },
    );
  }

  #fail(waiter: Waiter, error: unknown): void {
    if (waiter.done) return;
    this.#remove(waiter);
    waiter.reject(error);
  }

  #finish(waiter: Waiter, outcome: WaitOutcome): void {
    if (waiter.done) return;
    this.#remove(waiter);
    waiter.resolve(outcome);
    try {
      this.#onOutcome?.(outcome);
    } catch (error) {
      this.#onError?.(error);
    }
  }

  #remove(waiter: Waiter): void {
    waiter.done = true;
    waiter.queued = null;
    this.#timers.clear(waiter.timer);
    if (waiter.onAbort) waiter.request.signal?.removeEventListener('abort', waiter.onAbort);
    if (waiter.release) {
      const release = waiter.release;
      waiter.release = undefined;
      this.#release(release);
    }
    const { user, deviceId } = waiter.request;
    const entry = this.#users.get(user);
    if (!entry || entry.waiters.get(deviceId) !== waiter) return;
    entry.waiters.delete(deviceId);
    if (entry.waiters.size === 0) {
      this.#users.delete(user);
      void this.#unsubscribe(entry);
    }
  }
}
