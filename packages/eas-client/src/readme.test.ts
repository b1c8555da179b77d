import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EasApp } from '@easkit/server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReferenceServer } from '../test/server.js';

// The README's first example must run as written; the test only points its imports at the sources, its URL at
// the server started here, and its state file into a scratch folder.
const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
mkdirSync(join(import.meta.dirname, '../test'), { recursive: true });
const scratch = mkdtempSync(join(import.meta.dirname, '../test/.readme-'));
let app: EasApp;

beforeAll(async () => {
  app = await startReferenceServer();
});
afterAll(async () => {
  await app?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('README', () => {
  it('runs the first example twice: everything, then only what is new', async () => {
    expect(example).toContain("url: 'http://127.0.0.1:8080'");
    const source = example
      .replace("from '@easkit/eas-client'", `from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))}`)
      .replace(
        "from '@easkit/wbxml'",
        `from ${JSON.stringify(join(import.meta.dirname, '../../wbxml/src/index.ts'))}`,
      )
      .replace("'http://127.0.0.1:8080'", JSON.stringify(app.running.url))
      .replace("'./phone.json'", JSON.stringify(join(scratch, 'phone.json')));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      writeFileSync(join(scratch, 'first.ts'), source);
      await import(join(scratch, 'first.ts'));
      expect(log.mock.calls.map((call) => call[0])).toEqual(['Welcome to easkit', 'new contact']);
      expect(log.mock.calls[1]![1]).toMatch(/\S/);
      log.mockClear();
      writeFileSync(join(scratch, 'second.ts'), source);
      await import(join(scratch, 'second.ts'));
      // The message sent to itself the first time is the only new mail.
      expect(log.mock.calls.map((call) => call[0])).toEqual(['Hello', 'new contact']);
    } finally {
      log.mockRestore();
    }
  });
});
