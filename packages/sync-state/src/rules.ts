import type { ItemId, Modseq } from '@easkit/mailbox';
import { InvalidSyncKeyError } from './errors.js';
import type {
  CollectionState,
  ConfirmedState,
  JsonObject,
  JsonValue,
  PendingState,
  SentChange,
} from './state.js';
import { invalidSyncKeyStatus, type SyncKeyCommand } from './statuses.js';
import { firstSyncKey, INITIAL_SYNC_KEY, nextSyncKey } from './sync-key.js';

/**
 * What a presented sync key means for a collection:
 *
 * - `'initial'`: key `0`. Start the collection over with {@link startOver}. Nothing on the server is deleted;
 *   only the device's sync state is replaced.
 * - `'confirm-pending'`: the key of the pending state. The device got the last response: {@link confirmPending}
 *   and carry on from there.
 * - `'repeat'`: the confirmed key while a pending state exists. The last response was lost: answer with the
 *   pending state again (same items, same server ids for the same client ids) and change nothing.
 * - `'current'`: the confirmed key and nothing pending. Carry on from the confirmed state.
 * - `'invalid'`: anything else (an older key, a key of another epoch, garbage, any non-zero key when there
 *   is no state). Answer with {@link invalidSyncKeyStatus} and leave the state alone.
 */
export type SyncKeyClass = 'initial' | 'confirm-pending' | 'repeat' | 'current' | 'invalid';

/** Classifies the key a request presents against the stored state (`null`: none stored). Pure. */
export function classifySyncKey(state: CollectionState | null, presentedKey: string): SyncKeyClass {
  if (presentedKey === INITIAL_SYNC_KEY) return 'initial';
  if (state === null) return 'invalid';
  if (state.pending !== null && presentedKey === state.pending.syncKey) return 'confirm-pending';
  if (presentedKey === state.confirmed.syncKey) return state.pending === null ? 'current' : 'repeat';
  return 'invalid';
}

/**
 * {@link classifySyncKey}, throwing {@link InvalidSyncKeyError} (carrying the Status `command` answers) for
 * `'invalid'`, so a command can let the HTTP layer turn it into the response.
 */
export function requireValidSyncKey(
  state: CollectionState | null,
  presentedKey: string,
  command: SyncKeyCommand,
): Exclude<SyncKeyClass, 'invalid'> {
  const kind = classifySyncKey(state, presentedKey);
  if (kind === 'invalid') throw new InvalidSyncKeyError(presentedKey, invalidSyncKeyStatus(command));
  return kind;
}

/**
 * The newest key of a state: the pending key if there is one, otherwise the confirmed key. It is what
 * `SyncStateStore.compareAndSet` compares, and what the next key is issued after.
 */
export function latestSyncKey(state: CollectionState): string {
  return state.pending?.syncKey ?? state.confirmed.syncKey;
}

/** What a new response will carry; the input of {@link issuePending} and {@link startOver}. */
export interface PendingInput {
  /** The server changes the response carries, in order. */
  sent: readonly SentChange[];
  /** Client id to server id for the client's adds answered in the response. */
  clientAdds?: Readonly<Record<string, ItemId>>;
  /** Server ids the client deleted or moved away in the request. */
  removedByClient?: readonly ItemId[];
  /** The mailbox modseq up to which the response covers the collection's changes. */
  cursor: Modseq;
  /** The confirmed `meta` to take once the response is acknowledged. */
  meta?: JsonObject;
  /** A snapshot of the response to replay on a repeated request (JSON-able; bytes as base64). */
  response?: JsonValue;
  /** The options the request chose; absent keeps the options already stored. */
  options?: JsonObject | null;
}

/**
 * Folds the pending state into the confirmed state: the device acknowledged it. The confirmed key and cursor
 * become the pending ones; a tracked `known` set gains the sent adds and the server ids of the client's adds
 * and loses the sent deletes and the ids the client removed. A state without a pending part is returned
 * unchanged. Pure; the input is not modified.
 *
 * The result is meant as the base of {@link issuePending}; do not store it on its own. Its newest key equals
 * the input's, so a compare-and-set that expects that key would still succeed afterwards for a request that
 * read the earlier state. Nor is there a need: when there is nothing new to send, answer with the pending
 * key and write nothing; the next request presenting it is confirmed then.
 */
export function confirmPending(state: CollectionState): CollectionState {
  const pending = state.pending;
  if (pending === null) return state;
  const confirmed: ConfirmedState = { syncKey: pending.syncKey, cursor: pending.cursor };
  if (state.confirmed.known !== undefined) confirmed.known = nextKnown(state.confirmed.known, pending);
  const meta = pending.meta ?? state.confirmed.meta;
  if (meta !== undefined) confirmed.meta = meta;
  return { confirmed, pending: null, options: state.options };
}

function nextKnown(known: readonly ItemId[], pending: PendingState): ItemId[] {
  const set = new Set(known);
  for (const id of pending.removedByClient ?? []) set.delete(id);
  for (const id of Object.values(pending.clientAdds)) set.add(id);
  for (const change of pending.sent) {
    if (change.kind === 'add') set.add(change.id);
    else if (change.kind === 'delete' || change.kind === 'soft-delete') set.delete(change.id);
  }
  return [...set];
}

/**
 * The state after answering a request with a new key: `base` (the stored state for `'current'`,
 * `confirmPending(state)` for `'confirm-pending'`, or the stored state itself when a repeated request brings
 * client adds the pending state does not know) with a new pending part. The new key follows the base's
 * newest key in its epoch, so it differs from every key issued before; an existing pending part is replaced.
 * Pass the stored state itself, never a copy with `pending: null`: the new key would then repeat the lost
 * response's key, and the write would not change the key a concurrent compare-and-set expects.
 * Store the result with `compareAndSet(key, latestSyncKey(stored), result)`.
 *
 * Throws {@link InvalidSyncKeyError} when the base's newest key was not issued by this package.
 */
export function issuePending(base: CollectionState, input: PendingInput): CollectionState {
  const syncKey = nextSyncKey(latestSyncKey(base));
  return {
    confirmed: base.confirmed,
    pending: pendingFrom(syncKey, input),
    options: input.options === undefined ? base.options : input.options,
  };
}

/** Options of {@link startOver}. */
export interface StartOverOptions {
  /** Keep a `known` set of the server ids on the device in the confirmed state. Default `false`. */
  trackKnown?: boolean;
  /** The epoch of the new keys; a fresh random one by default. Give one only in tests. */
  epoch?: string;
}

/**
 * The state after a request with key `0`: a fresh epoch, a confirmed part that holds nothing (key `'0'`,
 * cursor 0, an empty `known` set if tracked) and the response as pending under the epoch's first key. The
 * previous state's options are kept unless `input.options` is given; nothing else of it survives. Deletes
 * nothing on the server: the mailbox is not touched.
 *
 * Store the result with `compareAndSet(key, previous === null ? null : latestSyncKey(previous), result)`.
 */
export function startOver(
  previous: CollectionState | null,
  input: PendingInput,
  options: StartOverOptions = {},
): CollectionState {
  const confirmed: ConfirmedState = { syncKey: INITIAL_SYNC_KEY, cursor: 0 };
  if (options.trackKnown) confirmed.known = [];
  return {
    confirmed,
    pending: pendingFrom(firstSyncKey(options.epoch), input),
    options: input.options === undefined ? (previous?.options ?? null) : input.options,
  };
}

function pendingFrom(syncKey: string, input: PendingInput): PendingState {
  const pending: PendingState = {
    syncKey,
    sent: input.sent.map((change) => ({ id: change.id, kind: change.kind })),
    clientAdds: { ...input.clientAdds },
    cursor: input.cursor,
  };
  if (input.removedByClient !== undefined && input.removedByClient.length > 0) {
    pending.removedByClient = [...input.removedByClient];
  }
  if (input.meta !== undefined) pending.meta = input.meta;
  if (input.response !== undefined) pending.response = input.response;
  return pending;
}

/** The client adds of a request, split by whether the pending state already assigned them a server id. */
export interface ResolvedClientAdds {
  /** Client id to the server id already assigned: answer with it, do not add the item again. */
  mapped: Record<string, ItemId>;
  /** Client ids the pending state does not know: these still have to be added. */
  unmapped: string[];
}

/**
 * For a repeated request (`'repeat'`): which of its client adds were already added with the lost response.
 * Reuse the mapped server ids; if anything is unmapped, the request is not a pure repeat: add those, and
 * answer with {@link issuePending} on the stored state, passing the mapped and the new ids together as
 * `clientAdds`. Duplicate client ids in `clientIds` are reported once.
 */
export function resolveClientAdds(
  state: CollectionState | null,
  clientIds: Iterable<string>,
): ResolvedClientAdds {
  const known = state?.pending?.clientAdds ?? {};
  const mapped: [string, ItemId][] = [];
  const unmapped: string[] = [];
  const seen = new Set<string>();
  for (const clientId of clientIds) {
    if (seen.has(clientId)) continue;
    seen.add(clientId);
    const serverId = Object.hasOwn(known, clientId) ? known[clientId] : undefined;
    if (serverId === undefined) unmapped.push(clientId);
    else mapped.push([clientId, serverId]);
  }
  // fromEntries defines own properties: a client id such as `__proto__` stays an ordinary entry.
  return { mapped: Object.fromEntries(mapped), unmapped };
}
