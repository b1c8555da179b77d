import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidSyncKeyError, SyncStateConflictError } from './errors.js';
import * as api from './index.js';
import { type CollectionKey, compareAndSetOrThrow, isSyncStateError, MemorySyncStateStore } from './index.js';

describe('the public door', () => {
  it('never loads the conformance suite (and so never vitest)', () => {
    const source = readFileSync(join(import.meta.dirname, 'index.ts'), 'utf8');
    expect(source).not.toMatch(/conformance|vitest/);
  });

  it('exports the documented API', () => {
    expect(Object.keys(api).sort()).toEqual([
      'HIERARCHY',
      'INITIAL_SYNC_KEY',
      'INVALID_SYNC_KEY_STATUS',
      'InvalidSyncKeyError',
      'MemorySyncStateStore',
      'SyncStateConflictError',
      'classifySyncKey',
      'compareAndSetOrThrow',
      'confirmPending',
      'firstSyncKey',
      'formatSyncKey',
      'getStates',
      'hierarchyKey',
      'invalidSyncKeyStatus',
      'isSyncStateError',
      'issuePending',
      'jsonCopy',
      'latestSyncKey',
      'newEpoch',
      'nextSyncKey',
      'parseSyncKey',
      'requireValidSyncKey',
      'resolveClientAdds',
      'startOver',
    ]);
    expect(api.hierarchyKey('u', 'd')).toEqual({ user: 'u', deviceId: 'd', collectionId: '#hierarchy' });
  });
});

describe('typed errors', () => {
  const key: CollectionKey = { user: 'u', deviceId: 'd', collectionId: '1' };
  const state = { confirmed: { syncKey: 'e-1', cursor: 0 }, pending: null, options: null };

  it('compareAndSetOrThrow throws SyncStateConflictError for a lost race', async () => {
    const store = new MemorySyncStateStore();
    await compareAndSetOrThrow(store, key, null, state);
    const error = await compareAndSetOrThrow(store, key, null, state).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SyncStateConflictError);
    expect(error).toMatchObject({ code: 'sync-state-conflict', expectedSyncKey: null, key });
    expect(isSyncStateError(error)).toBe(true);
  });

  it('InvalidSyncKeyError carries the key and status, and shortens long keys in its message', () => {
    const error = new InvalidSyncKeyError('x'.repeat(500), 3);
    expect(error).toMatchObject({ code: 'invalid-sync-key', status: 3, name: 'InvalidSyncKeyError' });
    expect(error.syncKey).toHaveLength(500);
    expect(error.message.length).toBeLessThan(150);
    expect(isSyncStateError(error)).toBe(true);
    expect(isSyncStateError(new Error('x'))).toBe(false);
  });
});
