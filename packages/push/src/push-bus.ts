import type { FolderId, Modseq, UserId } from '@easkit/mailbox';

/** One notification: these folders of this user changed. */
export interface PushEvent {
  readonly user: UserId;
  /**
   * The changed folders, as the publisher listed them (order and duplicates kept). An empty list means "something
   * changed, folders not known": a waiter should then re-read every folder it watches. A bus that goes through
   * a network also delivers such an empty event, published by nobody, to every subscription after it lost and
   * regained its connection, because events of the gap may be gone.
   */
  readonly folderIds: readonly FolderId[];
  /**
   * The mailbox modseq the change took, when the publisher knew it (`publish`'s third argument); absent
   * otherwise, and always absent from the re-check event after a reconnect. With it a waiter that holds a
   * device's cursor for the folders can tell whether the change is news to that device without reading the
   * store (see `WaitRequest.hasChanges`).
   */
  readonly modseq?: Modseq;
}

/**
 * Called once per event of the subscribed user. It may be async; the bus does not wait for it. A listener that
 * throws or rejects never stops delivery to other listeners or later events; the error goes to the bus's error
 * hook when it has one.
 */
export type PushListener = (event: PushEvent) => void | Promise<void>;

/**
 * Ends one subscription. Idempotent: calling it again, or after `close()`, does nothing and never touches another
 * subscription (not even one of the same listener function).
 */
export type Unsubscribe = () => Promise<void>;

/** Where listener errors go. Must not throw; if it does, the bus ignores that too. */
export type PushErrorHandler = (error: unknown, event: PushEvent) => void;

/**
 * The Direct Push fan-out: whoever changes a user's mailbox publishes the changed folder ids, and every waiting
 * Ping or Sync of that user (on any server instance that shares the backend) is woken up.
 *
 * The bus carries wake-ups, not data: it keeps no history, and a listener that subscribes after an event was
 * published never sees it. A waiter therefore re-reads the stores when it starts and after any reconnect.
 *
 * Guarantees every implementation makes (checked by `runPushBusConformance` from `@easkit/push/conformance`):
 * - **Delivery.** Once `subscribe` has resolved, every event published for that user afterwards reaches the
 *   listener exactly once per subscription. Within one process delivery is immediate; across instances it
 *   arrives as soon as the backend carries it.
 * - **Isolation.** A listener only ever receives events of the user it subscribed for; user ids are compared as
 *   exact strings (no prefixes, patterns or case folding).
 * - **Order.** For one user, events published one after the other (each `publish` awaited before the next) reach
 *   every listener in that order.
 * - **Fault isolation.** A listener that throws or rejects does not affect other listeners, later events or the
 *   publisher; `publish` does not reject because of a listener.
 * - **Unsubscribe** takes effect when its promise resolves and is idempotent.
 * - **Close.** After `close()` nothing is delivered and `publish` / `subscribe` reject with `PushBusClosedError`.
 *
 * The reference implementation to copy is `InProcessPushBus`.
 */
export interface PushBus {
  /**
   * Announces that the given folders of `user` changed. Resolves once the event is handed to the backend (for the
   * in-process bus: once every current listener has been called). The folder list is copied; changing the array
   * afterwards changes nothing. `modseq`, when given, is the modseq the change took in the user's mailbox; every
   * listener receives it as {@link PushEvent.modseq}. Give it only when all the named folders changed at
   * exactly that modseq (one mutation), never for an empty folder list.
   * @throws {PushBusClosedError} (as a rejection) after `close()`.
   */
  publish(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): Promise<void>;

  /**
   * Registers `listener` for the events of `user`. Resolves once the subscription is active: an event published
   * after that is delivered. The same function may be subscribed several times; each subscription is delivered
   * to and ended separately.
   * @throws {PushBusClosedError} (as a rejection) after `close()`.
   */
  subscribe(user: UserId, listener: PushListener): Promise<Unsubscribe>;

  /** Ends every subscription and releases what the bus holds. Idempotent. Connections passed in by the caller
   * stay open: the caller owns them. */
  close(): Promise<void>;
}

/**
 * The modseq a `publish` call's event carries: `undefined` when none was given or the folder list is empty (an
 * empty list means "re-read everything", which no single modseq describes).
 * @throws {TypeError} when `modseq` is given but is not a non-negative safe integer.
 */
export function eventModseq(modseq: Modseq | undefined, folderIds: readonly FolderId[]): Modseq | undefined {
  if (modseq === undefined) return undefined;
  if (!Number.isSafeInteger(modseq) || modseq < 0) {
    throw new TypeError('modseq must be a non-negative safe integer');
  }
  return folderIds.length === 0 ? undefined : modseq;
}
