import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './client.js';

/**
 * A Lua script kept as a file in `src/lua/`, run with EVALSHA and sent once with EVAL when the server does not
 * know it yet (after a restart or a SCRIPT FLUSH). The caller's client is never changed (no `defineCommand`).
 *
 * The file is read on first use from `../src/lua/` relative to this module, which is `src/lua/` both from
 * `src/*.ts` and from the built `dist/*.js` (the package ships `src`). A bundler must copy `src/lua/`.
 */
export class LuaScript {
  readonly name: string;
  #loaded: { source: string; sha: string } | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get source(): string {
    return this.#load().source;
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    const { source, sha } = this.#load();
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      return await client.eval(source, keys.length, ...keys, ...args);
    }
  }

  #load(): { source: string; sha: string } {
    if (!this.#loaded) {
      const source = readFileSync(new URL(`../src/lua/${this.name}.lua`, import.meta.url), 'utf8');
      this.#loaded = { source, sha: createHash('sha1').update(source).digest('hex') };
    }
    return this.#loaded;
  }
}
