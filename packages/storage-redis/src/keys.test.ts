import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fromSortable, hashTagOf, part, sortable, userTag } from './keys.js';

describe('key names', () => {
  it('keep every part apart, whatever characters it holds', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.string(),
        fc.string(),
        (a, b, c, d) => {
          const left = `p:device${userTag(a)}${part(b)}`;
          const right = `p:device${userTag(c)}${part(d)}`;
          assert.equal(left === right, a === c && b === d);
        },
      ),
    );
  });

  it('keep lone surrogates distinct (UTF-8 would turn both into U+FFFD)', () => {
    assert.notEqual(part('a\ud800'), part('a\udbff'));
    assert.equal(JSON.parse(part('a\ud800')), 'a\ud800');
  });

  it('put every key of one user in one Redis Cluster slot, also for ids with braces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), fc.string(), (user, one, two) => {
        const keys = [
          `p:device${userTag(user)}${part(one)}`,
          `p:devices${userTag(user)}`,
          `p:sync${userTag(user)}${part(two)}`,
          `p:push${userTag(user)}`,
          `p:claim${userTag(user)}${part(one)}`,
        ];
        assert.equal(new Set(keys.map(hashTagOf)).size, 1, JSON.stringify(keys));
      }),
    );
  });

  it('sortable() orders like JavaScript compares strings (UTF-16 code units) and round-trips', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const byJs = a < b ? -1 : a > b ? 1 : 0;
        const [x, y] = [sortable(a), sortable(b)];
        assert.equal(x < y ? -1 : x > y ? 1 : 0, byJs);
        assert.equal(fromSortable(x), a);
      }),
    );
  });
});
