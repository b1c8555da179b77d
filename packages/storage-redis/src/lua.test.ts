import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, it } from 'vitest';
import { cleanPrefix, connect, PrivateRedis, redisAvailable, testPrefix } from '../test/redis.js';
import { LuaScript } from './lua.js';

const available = await redisAvailable();
const client = available ? connect() : undefined;
const prefix = testPrefix('lua');

afterAll(async () => {
  if (!client) return;
  await cleanPrefix(client, prefix);
  client.disconnect();
});

describe.skipIf(!available)('LuaScript', () => {
  it('loads every script file, and Redis compiles each', async () => {
    const names = readdirSync(new URL('./lua/', import.meta.url)).filter((name) => name.endsWith('.lua'));
    assert.ok(names.length >= 10);
    for (const name of names) {
      const script = new LuaScript(name.slice(0, -4));
      assert.match(String(await client!.script('LOAD', script.source)), /^[0-9a-f]{40}$/);
    }
  });

  it('sends the script again when Redis does not know it (NOSCRIPT)', async () => {
    // A private server, whose script cache is known to be empty.
    const server = await PrivateRedis.start();
    const own = new Redis(server.url);
    try {
      const script = new LuaScript('hash-cas');
      const sha = createHash('sha1').update(script.source).digest('hex');
      assert.deepEqual(await own.script('EXISTS', sha), [0]);
      assert.equal(await script.run(own, ['hash'], ['field', '', 'one']), 1);
      assert.deepEqual(await own.script('EXISTS', sha), [1]);
      assert.equal(await script.run(own, ['hash'], ['field', 'one', 'two']), 1);
      assert.equal(await script.run(own, ['hash'], ['field', 'one', 'three']), 0);
      assert.equal(await own.hget('hash', 'field'), 'two');
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});
