import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCKOUT, lockDuration, MemoryLoginThrottle } from './lockout.js';

describe('failed-login lockout', () => {
  it('locks after the threshold, doubles the lock with each further failure, and releases after it', async () => {
    let now = 0;
    const throttle = new MemoryLoginThrottle({ now: () => now });
    for (let attempt = 1; attempt < DEFAULT_LOCKOUT.threshold; attempt++) {
      expect(await throttle.failure('Ada', 'phone')).toBe(0);
    }
    expect(await throttle.failure('ada', 'phone')).toBe(30_000);
    expect(await throttle.lockedFor('ADA ', 'phone')).toBe(30_000);
    expect(await throttle.lockedFor('ada', 'tablet')).toBe(0);
    now += 30_000;
    expect(await throttle.lockedFor('ada', 'phone')).toBe(0);
    // Still over the threshold within the window: the next failure locks for twice as long.
    expect(await throttle.failure('ada', 'phone')).toBe(60_000);
    now += 60_000;
    await throttle.success('ada', 'phone');
    expect(await throttle.failure('ada', 'phone')).toBe(0);
  });

  it('forgets failures older than the window, caps the lock, and bounds the keys it tracks', async () => {
    let now = 0;
    const throttle = new MemoryLoginThrottle({ now: () => now, maxKeys: 3 });
    for (let attempt = 1; attempt < DEFAULT_LOCKOUT.threshold; attempt++) await throttle.failure('bob', 'x');
    now += DEFAULT_LOCKOUT.windowMs + 1;
    expect(await throttle.failure('bob', 'x')).toBe(0);
    expect(lockDuration(1000, DEFAULT_LOCKOUT)).toBe(DEFAULT_LOCKOUT.maxLockMs);
    for (const name of ['a', 'b', 'c', 'd']) {
      for (let attempt = 0; attempt < DEFAULT_LOCKOUT.threshold; attempt++) await throttle.failure(name, 'x');
    }
    expect(await throttle.lockedFor('a', 'x')).toBe(0);
    expect(await throttle.lockedFor('d', 'x')).toBeGreaterThan(0);
  });
});
