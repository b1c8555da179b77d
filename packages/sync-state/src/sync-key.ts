import { InvalidSyncKeyError } from './errors.js';

/** The key a device sends to start a collection (or the hierarchy) over. */
export const INITIAL_SYNC_KEY = '0';

/**
 * A sync key as this package issues it: `{epoch}-{counter}`, e.g. `k7m2q9x4c8va-12`. The epoch is random and
 * new at every start-over, so keys of one collection never repeat across resets; the counter starts at 1 and
 * grows by one with every key issued in the epoch. Devices treat keys as opaque strings (MS-ASCMD
 * 2.2.3.181.4); the longest key here is 12 + 1 + 16 characters.
 */
export interface ParsedSyncKey {
  epoch: string;
  counter: number;
}

const EPOCH_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const EPOCH_LENGTH = 12;
const KEY_PATTERN = /^([0-9a-z]{1,32})-([1-9][0-9]{0,15})$/;

/**
 * A fresh random epoch: 12 characters of a 32-letter alphabet, 60 random bits, so two epochs collide with
 * negligible probability even across millions of resets.
 */
export function newEpoch(): string {
  const bytes = new Uint8Array(EPOCH_LENGTH);
  globalThis.crypto.getRandomValues(bytes);
  let epoch = '';
  for (const byte of bytes) epoch += EPOCH_ALPHABET[byte % EPOCH_ALPHABET.length];
  return epoch;
}

/** Splits a key issued by {@link formatSyncKey}; `undefined` for `'0'` and for anything else. */
export function parseSyncKey(key: string): ParsedSyncKey | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const counter = Number(match[2]);
  if (!Number.isSafeInteger(counter)) return undefined;
  return { epoch: match[1]!, counter };
}

/** Formats a key; throws a `RangeError` for an epoch or counter that {@link parseSyncKey} would not accept. */
export function formatSyncKey(parsed: ParsedSyncKey): string {
  const key = `${parsed.epoch}-${parsed.counter}`;
  const back = parseSyncKey(key);
  if (!back || back.epoch !== parsed.epoch || back.counter !== parsed.counter) {
    throw new RangeError(`not a valid sync key epoch/counter: ${JSON.stringify(parsed)}`);
  }
  return key;
}

/** The first key of a new epoch (`{epoch}-1`); a fresh random epoch unless one is given. */
export function firstSyncKey(epoch: string = newEpoch()): string {
  return formatSyncKey({ epoch, counter: 1 });
}

/**
 * The key after `key` in the same epoch. Throws {@link InvalidSyncKeyError} when `key` is `'0'` or was not
 * issued by this package (a stored state holding such a key is corrupt: start the collection over).
 */
export function nextSyncKey(key: string): string {
  const parsed = parseSyncKey(key);
  if (!parsed) throw new InvalidSyncKeyError(key, undefined, 'cannot continue sync key');
  return formatSyncKey({ epoch: parsed.epoch, counter: parsed.counter + 1 });
}
