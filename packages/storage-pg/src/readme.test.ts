import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The README's first example must run as written and print what the README says; only its import of this
// package is pointed at the sources.
const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const printed = /This prints:\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
mkdirSync(join(import.meta.dirname, '../test'), { recursive: true });
const scratch = mkdtempSync(join(import.meta.dirname, '../test/.readme-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('README', () => {
  it('has an example that runs as written and prints what the README shows', async () => {
    expect(example).toContain("from '@easkit/storage-pg'");
    expect(printed).not.toBe('');
    const file = join(scratch, 'example.ts');
    writeFileSync(
      file,
      example.replace(
        "from '@easkit/storage-pg'",
        `from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))}`,
      ),
    );
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(file);
      expect(log.mock.calls.map((call) => format(...call)).join('\n')).toBe(printed.trimEnd());
    } finally {
      log.mockRestore();
    }
  });

  it('names the migrations the package has', async () => {
    const { migrations } = await import('./migrations/index.js');
    for (const { id } of migrations) expect(readme).toContain(`\`${id}\``);
  });
});
