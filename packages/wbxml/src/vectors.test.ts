import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode, fromXml, toXml } from './index.js';

const vectorsDir = join(import.meta.dirname, '../test/fixtures/vectors');

function readHex(path: string): Uint8Array {
  const text = readFileSync(path, 'utf8').trim();
  return Uint8Array.from(text.split(/\s+/).map((pair) => Number.parseInt(pair, 16)));
}

const ids = readdirSync(vectorsDir)
  .filter((name) => name.endsWith('.xml'))
  .map((name) => name.slice(0, -4));

describe('golden vectors (shared/eas/vectors)', () => {
  it('has the WBXML vectors', () => {
    expect(ids.length).toBeGreaterThanOrEqual(6);
  });

  for (const id of ids) {
    it(`${id}: decodes to its XML and encodes back byte for byte`, () => {
      const bytes = readHex(join(vectorsDir, `${id}.hex`));
      const xml = readFileSync(join(vectorsDir, `${id}.xml`), 'utf8').trim();
      const tree = decode(bytes);
      expect(fromXml(toXml(tree))).toEqual(tree);
      expect(tree).toEqual(fromXml(xml));
      expect(Buffer.from(encode(tree)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
      expect(Buffer.from(encode(fromXml(xml))).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
    });
  }
});
