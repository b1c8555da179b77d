import { strict as assert } from 'node:assert';
import { afterAll, describe, it } from 'vitest';
import { cleanPrefix, connect, redisAvailable, testPrefix } from '../test/redis.js';
import { RedisCounters } from './counters.js';

const available = await redisAvailable();
const client = available ? connect() : undefined;
const other = available ? connect() : undefined;
const prefix = testPrefix('counters');
let namespaces = 0;

afterAll(async () => {
  if (!client) return;
  await cleanPrefix(client, prefix);
  client.disconnect();
  other?.disconnect();
});

/** Two instances' counters on two connections, sharing one namespace and one hand-driven clock. */
function setUp(options: Partial<ConstructorParameters<typeof RedisCounters>[0]> = {}) {
  const clock = { ms: 1_000_000 };
  const keyPrefix = `${prefix}${namespaces++}:`;
  const make = (each: NonNullable<typeof client>) =>
    new RedisCounters({ client: each, keyPrefix, now: () => clock.ms, ...options });
  return { clock, a: make(client!), b: make(other!) };
}

describe.skipIf(!available)('RedisCounters', () => {
  it('locks a (user, device) out after the free failures, doubling up to the longest lock-out', async () => {
    const { clock, a, b } = setUp({
      lockout: { freeFailures: 3, firstLockoutMs: 1000, maxLockoutMs: 5000, rememberMs: 60_000 },
    });
    for (let failure = 1; failure <= 3; failure++) {
      assert.deepEqual(await a.loginFailed('alice', 'phone'), { failures: failure, lockedForMs: 0 });
    }
    assert.deepEqual(await b.loginFailed('alice', 'phone'), { failures: 4, lockedForMs: 1000 });
    assert.deepEqual(await a.loginState('alice', 'phone'), { failures: 4, lockedForMs: 1000 });
    assert.deepEqual(await a.loginState('alice', 'tablet'), { failures: 0, lockedForMs: 0 }, 'other device');
    assert.deepEqual(await a.loginState('bob', 'phone'), { failures: 0, lockedForMs: 0 }, 'other user');
    clock.ms += 400;
    assert.equal((await b.loginState('alice', 'phone')).lockedForMs, 600);
    assert.equal((await a.loginFailed('alice', 'phone')).lockedForMs, 2000);
    assert.equal((await a.loginFailed('alice', 'phone')).lockedForMs, 4000);
    assert.equal((await a.loginFailed('alice', 'phone')).lockedForMs, 5000);
    assert.equal((await a.loginFailed('alice', 'phone')).lockedForMs, 5000);
    clock.ms += 5000;
    assert.deepEqual(await a.loginState('alice', 'phone'), { failures: 8, lockedForMs: 0 });
    await b.loginSucceeded('alice', 'phone');
    assert.deepEqual(await a.loginState('alice', 'phone'), { failures: 0, lockedForMs: 0 });
  });

  it('counts concurrent failures from two instances exactly', async () => {
    const { a, b } = setUp({ lockout: { freeFailures: 100 } });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) => (index % 2 ? a : b).loginFailed('alice', 'phone')),
    );
    assert.deepEqual(
      results.map((result) => result.failures).sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, index) => index + 1),
    );
  });

  it('remembers failures only for rememberMs after the last one', async () => {
    const { a } = setUp({ now: undefined, lockout: { rememberMs: 60_000 } });
    await a.loginFailed('alice', 'phone');
    const keys = await client!.keys(`${prefix}${namespaces - 1}:login*`);
    assert.equal(keys.length, 1);
    const ttl = await client!.pttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
  });

  it('allows a device limit requests per window across instances, then refuses with a retry time', async () => {
    const { clock, a, b } = setUp({ rate: { limit: 10, windowMs: 10_000 } });
    const decisions = await Promise.all(
      Array.from({ length: 15 }, (_, index) => (index % 2 ? a : b).takeRequest('alice', 'phone')),
    );
    assert.equal(decisions.filter((decision) => decision.allowed).length, 10);
    const refused = decisions.find((decision) => !decision.allowed)!;
    assert.equal(refused.retryAfterMs, 1000, 'one token comes back per 1000 ms');
    assert.equal((await a.takeRequest('alice', 'tablet')).allowed, true, 'another device has its own bucket');
    clock.ms += 1000;
    assert.deepEqual(await b.takeRequest('alice', 'phone'), { allowed: true, remaining: 0, retryAfterMs: 0 });
    assert.equal((await b.takeRequest('alice', 'phone')).allowed, false);
    clock.ms += 60_000;
    assert.deepEqual(await a.takeRequest('alice', 'phone'), { allowed: true, remaining: 9, retryAfterMs: 0 });
  });

  it('works on the Redis clock when no clock is given', async () => {
    const { a } = setUp({ now: undefined, rate: { limit: 2, windowMs: 600_000 } });
    assert.equal((await a.takeRequest('alice', 'phone')).allowed, true);
    assert.equal((await a.takeRequest('alice', 'phone')).allowed, true);
    const refused = await a.takeRequest('alice', 'phone');
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 300_000);
  });

  it('refuses bad options', () => {
    assert.throws(
      () => new RedisCounters({ client: client!, keyPrefix: 'x:', rate: { limit: 0 } }),
      TypeError,
    );
  });
});
