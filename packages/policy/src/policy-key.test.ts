import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import { generatePolicyKey, isPolicyKey } from './policy-key.js';

describe('policy keys', () => {
  it('are non-zero unsigned 32-bit integers that differ from the previous key', () => {
    for (let index = 0; index < 1000; index++) {
      const previous = generatePolicyKey();
      assert.ok(isPolicyKey(previous) && previous !== 0);
      assert.notEqual(generatePolicyKey(previous), previous);
    }
  });

  it('isPolicyKey accepts exactly the uint32 range', () => {
    for (const value of [0, 1, 0xffff_ffff]) assert.ok(isPolicyKey(value));
    for (const value of [-1, 2 ** 32, 1.5, Number.NaN, '5', null]) assert.ok(!isPolicyKey(value));
  });
});
