import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The module specifiers a TypeScript source file imports or re-exports. */
export function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((match) => match[1]!);
}

/**
 * Walks a package's sources from an entry file through its relative imports. `modules` are the files reached
 * (relative to `srcDir`, `.ts`), `external` every other specifier seen. The contract packages use it to prove
 * their main entry never reaches vitest or the conformance suite.
 */
export function walkEntry(
  srcDir: string,
  entry = 'index.ts',
): { modules: Set<string>; external: Set<string> } {
  const modules = new Set<string>();
  const external = new Set<string>();
  const queue = [resolve(srcDir, entry)];
  for (let file = queue.shift(); file; file = queue.shift()) {
    const name = relative(srcDir, file);
    if (modules.has(name)) continue;
    modules.add(name);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) queue.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else external.add(specifier);
    }
  }
  return { modules, external };
}
