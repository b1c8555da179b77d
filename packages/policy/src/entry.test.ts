import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { importsOf, walkEntry } from '../../../tooling/entry-imports.ts';

// Importing the package must never load vitest: walk the main entry's imports through the sources.
describe('the main entry', () => {
  it('reaches neither vitest nor the conformance suite', () => {
    const { modules: seen, external } = walkEntry(import.meta.dirname);
    assert.ok(!seen.has('conformance.ts'), 'index.ts must not reach conformance.ts');
    assert.ok(seen.size > 1, 'the walk found the entry’s modules');
    for (const specifier of external) {
      assert.ok(
        specifier.startsWith('node:') || specifier === '@easkit/mailbox',
        `unexpected import ${specifier}`,
      );
    }
    assert.ok(
      importsOf(join(import.meta.dirname, 'conformance.ts')).includes('vitest'),
      'the walk would notice vitest',
    );
  });
});
