import { describe, expect, it } from 'vitest';
import { walkEntry } from '../../../tooling/entry-imports.ts';

describe('the package entry', () => {
  it('loads only the WBXML codec and Node built-ins: no command line, no test code', () => {
    const { modules, external } = walkEntry(import.meta.dirname);
    expect([...external].filter((specifier) => !specifier.startsWith('node:'))).toEqual(['@easkit/wbxml']);
    expect([...modules].some((file) => file.includes('command-line') || file.endsWith('.test.ts'))).toBe(
      false,
    );
  });
});
