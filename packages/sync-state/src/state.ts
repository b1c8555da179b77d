import type { ItemId, Modseq } from '@easkit/mailbox';

/**
 * Data a store must keep exactly: what `JSON.stringify` and `JSON.parse` round-trip. No `undefined` inside
 * arrays, no `Uint8Array`, `Date`, `Map`, class instances, `NaN` or infinities. Bytes that must be kept (a
 * WBXML response, say) go in as base64 strings. A property whose value is `undefined` counts as absent.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

/**
 * What one entry of a response told the device: EAS `Add`, `Change`, `Delete` or `SoftDelete` for Sync,
 * `Add`, `Update` (here `'change'`) or `Delete` for FolderSync.
 */
export type SentChangeKind = 'add' | 'change' | 'delete' | 'soft-delete';

/** One server change sent to the device: the item's (or folder's) server id and what was sent. */
export interface SentChange {
  id: ItemId;
  kind: SentChangeKind;
}

/**
 * What the device has acknowledged: it presented this key, so it holds everything sent up to it.
 */
export interface ConfirmedState {
  /** The key the device holds; `'0'` right after a start-over, before the first key is confirmed. */
  syncKey: string;
  /** The mailbox modseq up to which the device has been sent every change of the collection. */
  cursor: Modseq;
  /**
   * The server ids the device is known to hold, when the command layer chose to track them (see
   * `startOver`'s `trackKnown`). Absent when not tracked. Kept in the order items became known.
   */
  known?: ItemId[];
  /** Free JSON data the command layer keeps with the confirmed state (e.g. folder types of the hierarchy). */
  meta?: JsonObject;
}

/**
 * What was sent with the newest key and not yet acknowledged. If the device presents this key it got the
 * response; if it presents the confirmed key again the response was lost and is sent again, unchanged.
 */
export interface PendingState {
  /** The key the last response carried. */
  syncKey: string;
  /** The server changes the response carried, in the order they were sent. */
  sent: SentChange[];
  /** The client's adds of the request: client id (EAS `ClientId`) to the server id assigned to it. */
  clientAdds: Record<string, ItemId>;
  /** Server ids the client deleted or moved away in the request (dropped from `known` on confirm). */
  removedByClient?: ItemId[];
  /** The cursor the confirmed state takes when this response is acknowledged. */
  cursor: Modseq;
  /** The confirmed `meta` once acknowledged; absent keeps the confirmed state's `meta`. */
  meta?: JsonObject;
  /** An opaque snapshot of the response, for the command layer to replay on a repeated request. */
  response?: JsonValue;
}

/** The sync state of one collection of one device. Plain JSON-able data (see {@link JsonValue}). */
export interface CollectionState {
  confirmed: ConfirmedState;
  /** The unacknowledged last response, or `null` when the device holds the confirmed key. */
  pending: PendingState | null;
  /**
   * The options the device chose for the collection (filter type, body preferences, conflict handling, ...)
   * as an opaque record, so a later Sync that sends no options reuses them. `null`: none chosen yet.
   */
  options: JsonObject | null;
}

/**
 * Checks that `value` is JSON-able in the sense of {@link JsonValue} and returns a deep copy of it, as a
 * JSON round trip would (properties whose value is `undefined` are dropped). Throws a `TypeError` naming the
 * path of the first value that is not JSON-able. Stores use this to copy states in and out.
 */
export function jsonCopy<T>(value: T): T {
  return copyJson(value, '$') as T;
}

function copyJson(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not JSON-able: ${path} is ${value}`);
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((entry, index) => {
      if (entry === undefined) throw new TypeError(`not JSON-able: ${path}[${index}] is undefined`);
      return copyJson(entry, `${path}[${index}]`);
    });
  }
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = (value as object).constructor?.name ?? 'object';
      throw new TypeError(
        `not JSON-able: ${path} is a ${kind} (keep states plain JSON; encode bytes as base64)`,
      );
    }
    // Object.fromEntries defines own properties, so a `__proto__` key stays data, as JSON.parse keeps it.
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, entry]) => entry !== undefined)
        .map(([key, entry]) => [key, copyJson(entry, `${path}.${key}`)]),
    );
  }
  throw new TypeError(`not JSON-able: ${path} is ${typeof value}`);
}
