import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ChangeLog } from './change-log.js';

describe('ChangeLog', () => {
  it('keeps a live key at its creation and its latest write, a deleted key only at its tombstone', () => {
    const log = new ChangeLog();
    log.record('a', 1, 'add');
    log.record('b', 2, 'add');
    log.record('a', 3, 'change');
    log.record('a', 4, 'change');
    log.record('b', 5, 'delete');
    assert.deepEqual(
      [...log.since(0)].map((e) => [e.key, e.modseq, e.addedModseq, e.deleted]),
      [
        ['a', 1, 1, false],
        ['a', 4, 1, false],
        ['b', 5, 2, true],
      ],
    );
    assert.deepEqual(
      [...log.since(3)].map((e) => [e.key, e.modseq]),
      [
        ['a', 4],
        ['b', 5],
      ],
    );
    assert.equal(log.high(), 5);
    assert.deepEqual(log.get('b'), { key: 'b', addedModseq: 2, latestModseq: 5, deleted: true });
  });

  it('refuses to go back in time', () => {
    const log = new ChangeLog(10);
    assert.equal(log.high(), 10);
    assert.throws(() => log.record('a', 9, 'add'));
    log.record('a', 11, 'add');
    assert.throws(() => log.record('b', 10, 'add'));
  });

  it('agrees with a naive model under random writes, compaction included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.boolean()), { maxLength: 400 }),
        (ops) => {
          const log = new ChangeLog();
          const model = new Map<string, { added: number; latest: number; deleted: boolean }>();
          let modseq = 0;
          for (const [k, del] of ops) {
            const key = `k${k}`;
            const state = model.get(key);
            modseq++;
            if (!state || state.deleted) {
              log.record(key, modseq, 'add');
              model.set(key, { added: modseq, latest: modseq, deleted: false });
            } else if (del) {
              log.record(key, modseq, 'delete');
              model.set(key, { ...state, latest: modseq, deleted: true });
            } else {
              log.record(key, modseq, 'change');
              model.set(key, { ...state, latest: modseq });
            }
          }
          for (const since of [0, Math.floor(modseq / 2), modseq - 3, modseq]) {
            const expected: Array<[string, number]> = [];
            for (const [key, s] of model) {
              if (!s.deleted && s.added > since) expected.push([key, s.added]);
              if (s.latest > since && (s.deleted || s.latest !== s.added)) expected.push([key, s.latest]);
            }
            expected.sort((x, y) => x[1] - y[1]);
            assert.deepEqual(
              [...log.since(since)].map((e) => [e.key, e.modseq]),
              expected,
            );
          }
        },
      ),
    );
  });
});
