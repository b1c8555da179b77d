import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';

// Importing the package must never load vitest: walk the main entry's imports through the sources.
function importsOf(file: string): string[] {
  const source = readFileSync(join(import.meta.dirname, file), 'utf8');
  return [...source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((match) => match[1]!);
}

describe('the main entry', () => {
  it('reaches neither vitest nor the conformance suite', () => {
    const seen = new Set<string>();
    const queue = ['index.ts'];
    const external = new Set<string>();
    for (let file = queue.shift(); file; file = queue.shift()) {
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('./')) queue.push(specifier.slice(2).replace(/\.js$/, '.ts'));
        else external.add(specifier);
      }
    }
    assert.ok(!seen.has('conformance.ts'), 'index.ts must not reach conformance.ts');
    assert.ok(seen.size > 1, 'the walk found the entry’s modules');
    for (const specifier of external) {
      assert.ok(
        specifier.startsWith('node:') || specifier === '@easkit/mailbox',
        `unexpected import ${specifier}`,
      );
    }
    assert.ok(importsOf('conformance.ts').includes('vitest'), 'the walk would notice vitest');
  });
});
