import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// test/fixtures holds copies of the team's checked reference (shared/eas: the code page table and the golden
// vectors). SHA256SUMS records them as they were copied, so an edit to a copy fails here in every checkout,
// and beside the shared folder the shared originals are held to the same sums.
const fixtures = join(import.meta.dirname, '../test/fixtures');
const sharedEas = join(import.meta.dirname, '../../../../shared/eas');

const recorded = new Map(
  readFileSync(join(fixtures, 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [sum, name] = line.split(/\s+/);
      return [name!, sum!] as const;
    }),
);

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('vendored reference files', () => {
  it('are exactly the files SHA256SUMS records, unchanged', () => {
    const present = [
      'codepages.json',
      ...readdirSync(join(fixtures, 'vectors')).map((name) => `vectors/${name}`),
    ].sort();
    expect(present).toEqual([...recorded.keys()].sort());
    for (const [name, sum] of recorded) expect(sha256(join(fixtures, name)), name).toBe(sum);
  });

  it('match the shared originals wherever those are checked out beside the repository', () => {
    const beside = existsSync(sharedEas);
    for (const [name, sum] of recorded) {
      if (beside) expect(sha256(join(sharedEas, name)), `shared/eas/${name}`).toBe(sum);
    }
    // Without the shared folder there is nothing more to compare; the checksums above still hold the copies.
    expect(recorded.size).toBeGreaterThan(10);
  });
});
