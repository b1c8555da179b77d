import { describe, expect, it } from 'vitest';
import { decode } from './decoder.js';
import { WbxmlError } from './errors.js';

/** A document: header with a string table, then `<Sync>` (AirSync page 0) holding `<SyncKey>` elements. */
function document(table: Uint8Array, references: number[]): Uint8Array {
  const mb = (value: number) => {
    const out = [value & 0x7f];
    for (let rest = value >>> 7; rest > 0; rest >>>= 7) out.unshift((rest & 0x7f) | 0x80);
    return out;
  };
  const body: number[] = [0x45]; // Sync with content
  for (const reference of references) body.push(0x4b, 0x83, ...mb(reference), 0x01); // SyncKey, STR_T, END
  body.push(0x01);
  return Uint8Array.from([0x03, 0x01, 0x6a, ...mb(table.length), ...table, ...body]);
}

describe('string table references', () => {
  it('reads a table the usual way: each entry once, repeated references cached', () => {
    const table = new TextEncoder().encode('first\u0000second\u0000');
    const tree = decode(document(table, [0, 6, 0, 6, 0]));
    expect(tree.all('SyncKey').map((element) => element.content)).toEqual([
      'first',
      'second',
      'first',
      'second',
      'first',
    ]);
  });

  it('refuses references into the middle of one long entry that would decode it again and again', () => {
    const long = new Uint8Array(200_001).fill(0x61);
    long[200_000] = 0;
    const references = Array.from({ length: 1000 }, (_, index) => index * 7);
    const error = (() => {
      try {
        decode(document(long, references));
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(WbxmlError);
    expect((error as WbxmlError).code).toBe('limit-string');
  });
});
