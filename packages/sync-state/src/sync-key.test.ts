import { describe, expect, it } from 'vitest';
import { InvalidSyncKeyError } from './errors.js';
import {
  firstSyncKey,
  formatSyncKey,
  INITIAL_SYNC_KEY,
  newEpoch,
  nextSyncKey,
  parseSyncKey,
} from './sync-key.js';

describe('sync keys', () => {
  it('formats and parses {epoch}-{counter}', () => {
    expect(formatSyncKey({ epoch: 'abc123', counter: 7 })).toBe('abc123-7');
    expect(parseSyncKey('abc123-7')).toEqual({ epoch: 'abc123', counter: 7 });
  });

  it('does not parse the initial key or garbage', () => {
    for (const key of [
      INITIAL_SYNC_KEY,
      '',
      '-1',
      'abc-0',
      'abc-01',
      'ABC-1',
      'a b-1',
      'abc-1 ',
      'abc',
      '1',
    ]) {
      expect(parseSyncKey(key), key).toBeUndefined();
    }
    expect(parseSyncKey(`a-${'9'.repeat(16)}`)).toBeUndefined();
  });

  it('refuses to format parts it could not parse back', () => {
    expect(() => formatSyncKey({ epoch: 'a-b', counter: 1 })).toThrow(RangeError);
    expect(() => formatSyncKey({ epoch: 'abc', counter: 0 })).toThrow(RangeError);
    expect(() => formatSyncKey({ epoch: 'abc', counter: 1.5 })).toThrow(RangeError);
  });

  it('starts an epoch at 1 and counts up by one', () => {
    const first = firstSyncKey('epoch1');
    expect(first).toBe('epoch1-1');
    expect(nextSyncKey(first)).toBe('epoch1-2');
    expect(nextSyncKey('epoch1-41')).toBe('epoch1-42');
  });

  it('cannot continue the initial key or a foreign key', () => {
    expect(() => nextSyncKey(INITIAL_SYNC_KEY)).toThrow(InvalidSyncKeyError);
    expect(() => nextSyncKey('{6A1C}3')).toThrow(InvalidSyncKeyError);
  });

  it('makes fresh epochs that differ and parse', () => {
    const epochs = new Set(Array.from({ length: 1000 }, () => newEpoch()));
    expect(epochs.size).toBe(1000);
    for (const epoch of epochs) {
      expect(epoch).toMatch(/^[0-9a-z]{12}$/);
      expect(parseSyncKey(firstSyncKey(epoch))?.epoch).toBe(epoch);
    }
    expect(firstSyncKey()).toMatch(/^[0-9a-z]{12}-1$/);
  });
});
