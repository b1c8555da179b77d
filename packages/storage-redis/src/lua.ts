import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './client.js';

/**
 * A Lua script kept as a file in `src/lua/`, run with EVALSHA and sent once with EVAL when the server does not
 * know it yet (after a restart or a SCRIPT FLUSH). The caller's client is never changed (no `defineCommand`).
 *
 * Files are read from `../src/lua/` relative to the module, which is `src/lua/` both from `src/*.ts` and from
 * the built `dist/*.js` (the package ships `src`).
 */
export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  constructor(name: string) {
    this.name = name;
    this.source = readFileSync(new URL(`../src/lua/${name}.lua`, import.meta.url), 'utf8');
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
