import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cleanPrefix, connect, redisAvailable, redisUrl, testPrefix } from '../test/redis.js';

// The README's first example must run as written against the test Redis; only its import, the Redis URL and
// the key prefix are replaced (the prefix so that the keys it leaves can be removed afterwards).
const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const printed = /This prints:\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const available = await redisAvailable();
const prefix = testPrefix('readme');
mkdirSync(join(import.meta.dirname, '../test'), { recursive: true });
const scratch = mkdtempSync(join(import.meta.dirname, '../test/.readme-'));

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  if (!available) return;
  const client = connect();
  await cleanPrefix(client, prefix);
  client.disconnect();
});

describe.skipIf(!available)('README', () => {
  it('has an example that runs as written and prints what the README shows', async () => {
    expect(example).toContain("from '@easkit/storage-redis'");
    expect(example).toContain("'redis://127.0.0.1:6379'");
    expect(example).toContain('`easkit-example:');
    const file = join(scratch, 'example.ts');
    writeFileSync(
      file,
      example
        .replace(
          "from '@easkit/storage-redis'",
          `from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))}`,
        )
        .replace("'redis://127.0.0.1:6379'", JSON.stringify(redisUrl))
        .replace('`easkit-example:', `\`${prefix}`),
    );
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(file);
      const lines = log.mock.calls.map((call) =>
        call.map((part) => (typeof part === 'string' ? part : inspect(part))).join(' '),
      );
      expect(lines.join('\n')).toBe(printed.trimEnd());
    } finally {
      log.mockRestore();
    }
  });
});
