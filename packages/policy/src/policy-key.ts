import { randomInt } from 'node:crypto';

/** True for a value a device may hold as its policy key: an unsigned 32-bit integer (0 meaning "none"). */
export function isPolicyKey(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffff_ffff;
}

/**
 * A fresh, unpredictable, non-zero policy key (MS-ASPROV PolicyKey is an unsigned 32-bit number, 0 reserved for
 * "no key"). Pass `previous` to make sure the new key differs from the one the device holds.
 */
export function generatePolicyKey(previous?: number): number {
  for (;;) {
    // randomInt's upper bound is exclusive and must stay below 2^48; 2^32 is fine.
    const key = randomInt(1, 0x1_0000_0000);
    if (key !== previous) return key;
  }
}
