import { describe, expect, it } from 'vitest';
import { InvalidSyncKeyError } from './errors.js';
import {
  classifySyncKey,
  confirmPending,
  issuePending,
  latestSyncKey,
  requireValidSyncKey,
  resolveClientAdds,
  startOver,
} from './rules.js';
import type { CollectionState } from './state.js';
import { INVALID_SYNC_KEY_STATUS, invalidSyncKeyStatus } from './statuses.js';

const confirmedOnly: CollectionState = {
  confirmed: { syncKey: 'ep-3', cursor: 30 },
  pending: null,
  options: { filterType: 3 },
};
const withPending: CollectionState = {
  confirmed: { syncKey: 'ep-3', cursor: 30 },
  pending: { syncKey: 'ep-4', sent: [{ id: 'i1', kind: 'add' }], clientAdds: { c1: 'i9' }, cursor: 40 },
  options: null,
};

describe('classifySyncKey', () => {
  it('treats key 0 as a start-over, with or without state', () => {
    expect(classifySyncKey(null, '0')).toBe('initial');
    expect(classifySyncKey(confirmedOnly, '0')).toBe('initial');
    expect(classifySyncKey(withPending, '0')).toBe('initial');
  });

  it('tells confirm, repeat and current apart', () => {
    expect(classifySyncKey(withPending, 'ep-4')).toBe('confirm-pending');
    expect(classifySyncKey(withPending, 'ep-3')).toBe('repeat');
    expect(classifySyncKey(confirmedOnly, 'ep-3')).toBe('current');
  });

  it('refuses everything else', () => {
    expect(classifySyncKey(null, 'ep-1')).toBe('invalid');
    for (const key of ['ep-2', 'ep-5', 'other-3', '', ' 0', '00', 'EP-3']) {
      expect(classifySyncKey(withPending, key), key).toBe('invalid');
    }
    expect(classifySyncKey(confirmedOnly, 'ep-4')).toBe('invalid');
  });

  it('throws the typed error with the command status from requireValidSyncKey', () => {
    expect(requireValidSyncKey(withPending, 'ep-3', 'Sync')).toBe('repeat');
    try {
      requireValidSyncKey(withPending, 'ep-2', 'FolderSync');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSyncKeyError);
      expect(error).toMatchObject({ code: 'invalid-sync-key', status: 9, syncKey: 'ep-2' });
    }
  });
});

describe('statuses', () => {
  it('maps invalid keys to Sync 3, FolderSync 9, GetItemEstimate 4', () => {
    expect(invalidSyncKeyStatus('Sync')).toBe(3);
    expect(invalidSyncKeyStatus('FolderSync')).toBe(9);
    expect(invalidSyncKeyStatus('GetItemEstimate')).toBe(4);
    expect(INVALID_SYNC_KEY_STATUS.FolderCreate).toBe(9);
  });
});

describe('transitions', () => {
  it('starts over with a fresh epoch, keeping options unless new ones are given', () => {
    const a = startOver(withPending, { sent: [], cursor: 0 });
    const b = startOver(confirmedOnly, { sent: [], cursor: 0 });
    expect(a.confirmed).toEqual({ syncKey: '0', cursor: 0 });
    expect(a.pending?.syncKey).toMatch(/^[0-9a-z]{12}-1$/);
    expect(a.pending?.syncKey).not.toBe(b.pending?.syncKey);
    expect(b.options).toEqual({ filterType: 3 });
    expect(startOver(confirmedOnly, { sent: [], cursor: 0, options: null }).options).toBeNull();
    expect(startOver(null, { sent: [], cursor: 0 }, { trackKnown: true, epoch: 'e' })).toEqual({
      confirmed: { syncKey: '0', cursor: 0, known: [] },
      pending: { syncKey: 'e-1', sent: [], clientAdds: {}, cursor: 0 },
      options: null,
    });
  });

  it('confirms the pending part, updating a tracked known set', () => {
    const state: CollectionState = {
      confirmed: { syncKey: 'e-1', cursor: 5, known: ['a', 'b', 'c'], meta: { v: 1 } },
      pending: {
        syncKey: 'e-2',
        sent: [
          { id: 'd', kind: 'add' },
          { id: 'a', kind: 'delete' },
          { id: 'b', kind: 'change' },
          { id: 'e', kind: 'soft-delete' },
        ],
        clientAdds: { tmp1: 'f' },
        removedByClient: ['c'],
        cursor: 9,
      },
      options: { filterType: 0 },
    };
    const confirmed = confirmPending(state);
    expect(confirmed).toEqual({
      confirmed: { syncKey: 'e-2', cursor: 9, known: ['b', 'f', 'd'], meta: { v: 1 } },
      pending: null,
      options: { filterType: 0 },
    });
    expect(state.pending?.syncKey).toBe('e-2');
    expect(confirmPending(confirmedOnly)).toBe(confirmedOnly);
    expect(confirmPending(withPending).confirmed).toEqual({ syncKey: 'ep-4', cursor: 40 });
  });

  it('issues the next key after the newest one and replaces a pending part', () => {
    const next = issuePending(confirmPending(withPending), { sent: [{ id: 'x', kind: 'add' }], cursor: 50 });
    expect(next.pending?.syncKey).toBe('ep-5');
    expect(next.confirmed.syncKey).toBe('ep-4');
    expect(latestSyncKey(next)).toBe('ep-5');
    const reissued = issuePending(withPending, { sent: [], clientAdds: { c1: 'i9', c2: 'i10' }, cursor: 41 });
    expect(reissued.confirmed.syncKey).toBe('ep-3');
    expect(reissued.pending).toEqual({
      syncKey: 'ep-5',
      sent: [],
      clientAdds: { c1: 'i9', c2: 'i10' },
      cursor: 41,
    });
    expect(issuePending(confirmedOnly, { sent: [], cursor: 31, options: { filterType: 5 } }).options).toEqual(
      {
        filterType: 5,
      },
    );
    expect(() =>
      issuePending({ ...confirmedOnly, confirmed: { syncKey: '0', cursor: 0 } }, { sent: [], cursor: 0 }),
    ).toThrow(InvalidSyncKeyError);
  });

  it('resolves client adds of a repeated request against the pending map', () => {
    expect(resolveClientAdds(withPending, ['c1', 'c2', 'c1', '__proto__'])).toEqual({
      mapped: { c1: 'i9' },
      unmapped: ['c2', '__proto__'],
    });
    expect(resolveClientAdds(null, ['c1'])).toEqual({ mapped: {}, unmapped: ['c1'] });
    const odd = issuePending(confirmedOnly, {
      sent: [],
      clientAdds: JSON.parse('{"__proto__":"p1"}'),
      cursor: 31,
    });
    expect(resolveClientAdds(odd, ['__proto__']).mapped).toEqual(JSON.parse('{"__proto__":"p1"}'));
  });
});
