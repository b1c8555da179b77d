// The decoder's string and OPAQUE paths: the string cache keyed by bytes, the Latin-1 copy for ASCII, the
// memchr search for long strings, the string table read on first reference, and the slabs short OPAQUE values
// are copied into. Whatever path a string takes, it must decode exactly as Buffer's UTF-8 decoder does
// (invalid sequences replaced the same way), which is what the decoder gave before these paths existed.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { tagByName } from './codepages.js';
import { decode } from './decoder.js';
import type { WbxmlElement } from './tree.js';

const STR_I = 0x03;
const STR_T = 0x83;
const OPAQUE = 0xc3;
const END = 0x01;
const CONTENT = 0x40;
const SYNC = tagByName('AirSync', 'Sync')!.token | CONTENT;
const SYNC_KEY = tagByName('AirSync', 'SyncKey')!.token | CONTENT;

function mbUint(value: number): number[] {
  const out = [value & 0x7f];
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) {
    out.unshift(0x80 | (rest & 0x7f));
  }
  return out;
}

type Piece = { inline: Uint8Array } | { table: number } | { opaque: Uint8Array };

/** A document: AirSync:Sync holding one SyncKey per piece, after a header with this string table. */
function document(pieces: readonly Piece[], table: readonly number[] = []): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([0x03, 0x01, 0x6a, ...mbUint(table.length), ...table, SYNC])];
  for (const piece of pieces) {
    if ('inline' in piece) parts.push(Uint8Array.of(SYNC_KEY, STR_I), piece.inline, Uint8Array.of(0, END));
    else if ('table' in piece) parts.push(Uint8Array.of(SYNC_KEY, STR_T, ...mbUint(piece.table), END));
    else {
      parts.push(Uint8Array.of(SYNC_KEY, OPAQUE, ...mbUint(piece.opaque.length)), piece.opaque);
      parts.push(Uint8Array.of(END));
    }
  }
  parts.push(Uint8Array.of(END));
  return Uint8Array.from(Buffer.concat(parts));
}

const utf8 = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const contents = (root: WbxmlElement) => root.children.map((child) => child.content);

// Bytes without NUL, shaped like real text and like damage: ASCII, UTF-8 of any code point (lone surrogates
// included, which Buffer writes as EF BF BD), random bytes 1-255 (mostly invalid UTF-8), and runs of those
// joined, so that lengths cross the 32-byte scan, the 64-byte cache limit and the long-string path.
const asciiPiece = fc
  .string({ minLength: 1, maxLength: 80 })
  .map((text) => Buffer.from(text.replace(/\0/g, 'a')));
const unicodePiece = fc
  .array(fc.integer({ min: 1, max: 0x10ffff }), { minLength: 1, maxLength: 40 })
  .map((codes) => Buffer.from(String.fromCodePoint(...codes), 'utf8'));
const randomPiece = fc.uint8Array({ min: 1, max: 255, minLength: 1, maxLength: 40 });
const highPiece = fc.uint8Array({ min: 0x80, max: 0xff, minLength: 1, maxLength: 8 });
const textBytes = fc
  .array(fc.oneof(asciiPiece, unicodePiece, randomPiece, highPiece), { minLength: 1, maxLength: 8 })
  .map((parts) => Uint8Array.from(Buffer.concat(parts)));

describe('decode: strings', () => {
  it('any inline string decodes as Buffer decodes its UTF-8, valid or not, on every path', () => {
    fc.assert(
      fc.property(fc.array(textBytes, { minLength: 1, maxLength: 6 }), (texts) => {
        const root = decode(document(texts.map((inline) => ({ inline }))));
        expect(contents(root)).toEqual(texts.map(utf8));
      }),
      { numRuns: 300 },
    );
  });

  it('a repeated string comes back equal every time, within and across documents (the cache)', () => {
    fc.assert(
      fc.property(textBytes, textBytes, (first, second) => {
        const pieces = [first, second, first, second, first].map((inline) => ({ inline }));
        const expected = [first, second, first, second, first].map(utf8);
        expect(contents(decode(document(pieces)))).toEqual(expected);
        expect(contents(decode(document(pieces)))).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('strings that differ only in one byte or in length never share a cache entry', () => {
    // Thousands of distinct strings of each cached length, so that slots are reused many times over.
    const texts: Uint8Array[] = [];
    for (let length = 1; length <= 70; length++) {
      for (let i = 0; i < 60; i++) {
        const bytes = new Uint8Array(length).fill(0x61);
        bytes[i % length] = 0x62 + (i % 20);
        if (i >= 20) bytes[(i * 7) % length] = i % 2 === 0 ? 0xc3 : 0xe2; // non-ASCII, often invalid
        texts.push(bytes);
      }
    }
    for (let round = 0; round < 2; round++) {
      const root = decode(document(texts.map((inline) => ({ inline }))));
      expect(contents(root)).toEqual(texts.map(utf8));
    }
  });

  it('long strings (the transcode path from 256 bytes) decode as Buffer decodes them, valid or not', () => {
    const padding = Buffer.from('plain ASCII padding '.repeat(13));
    fc.assert(
      fc.property(
        fc.array(textBytes, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('before', 'after', 'both'),
        (parts, where) => {
          const text = Buffer.concat(parts);
          const inline = Uint8Array.from(
            Buffer.concat(
              where === 'before'
                ? [padding, text]
                : where === 'after'
                  ? [text, padding]
                  : [padding, text, padding],
            ),
          );
          expect(contents(decode(document([{ inline }])))).toEqual([utf8(inline)]);
        },
      ),
      { numRuns: 300 },
    );
    // A byte order mark stays part of the text, as Buffer keeps it (TextDecoder would drop it).
    const bom = Uint8Array.from(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), padding, Buffer.from('é')]));
    expect(decode(document([{ inline: bom }])).children[0]!.text).toBe(utf8(bom));
    expect(utf8(bom).charCodeAt(0)).toBe(0xfeff);
  });

  it('many long strings in one document (decoded together at the end) each decode as they would alone', () => {
    const padding = Buffer.from('x'.repeat(256));
    // Damage that tests the joins between texts: sequences cut short at the end of a text, U+0001 (which
    // changes the separator the decoder joins texts with), and stray continuation bytes at the start.
    const edge = fc.constantFrom(
      Uint8Array.of(0xe2, 0x82),
      Uint8Array.of(0xf0, 0x9f, 0x98),
      Uint8Array.of(0xc3),
      Uint8Array.of(0x01),
      Uint8Array.of(0x80, 0x80),
      Uint8Array.of(0xef, 0xbb, 0xbf),
      new Uint8Array(0),
    );
    const longText = fc
      .tuple(edge, textBytes, edge)
      .map(([head, middle, tail]) => Uint8Array.from(Buffer.concat([head, padding, middle, tail])));
    fc.assert(
      fc.property(fc.array(fc.oneof(longText, textBytes), { minLength: 1, maxLength: 8 }), (texts) => {
        const root = decode(document(texts.map((inline) => ({ inline }))));
        expect(contents(root)).toEqual(texts.map(utf8));
      }),
      { numRuns: 300 },
    );
  });

  it('an element with a long string and more strings after it gets them all, joined', () => {
    const long = Buffer.from(`Grüße – ${'y'.repeat(300)}`);
    const other = Buffer.from(`“${'z'.repeat(280)}”`);
    const table = [...Buffer.from('tail'), 0];
    const strI = (bytes: Uint8Array) => [STR_I, ...bytes, 0];
    const element = (...strings: number[][]) => [SYNC_KEY, ...strings.flat(), END];
    const bytes = Uint8Array.from([
      0x03,
      0x01,
      0x6a,
      table.length,
      ...table,
      SYNC,
      ...element(strI(long), strI(Buffer.from('short'))),
      ...element(strI(long), strI(other)),
      ...element(strI(long), [STR_T, 0]),
      ...element(strI(Buffer.from('first')), strI(long)),
      ...element(strI(other)),
      END,
    ]);
    expect(contents(decode(bytes))).toEqual([
      `${utf8(long)}short`,
      utf8(long) + utf8(other),
      `${utf8(long)}tail`,
      `first${utf8(long)}`,
      utf8(other),
    ]);
  });

  it('an element with a long string refuses child elements and bytes after it', () => {
    const long = [STR_I, ...Buffer.from('w'.repeat(300)), 0];
    const head = [0x03, 0x01, 0x6a, 0x00, SYNC, SYNC_KEY, ...long];
    expect(() => decode(Uint8Array.from([...head, SYNC_KEY, END, END, END]))).toThrow(
      expect.objectContaining({ code: 'mixed-content', offset: head.length }),
    );
    expect(() => decode(Uint8Array.from([...head, OPAQUE, 1, 7, END, END]))).toThrow(
      expect.objectContaining({ code: 'mixed-content', offset: head.length }),
    );
    expect(() => decode(Uint8Array.from([...head, END]))).toThrow(
      expect.objectContaining({ code: 'truncated' }),
    );
  });

  it('long strings and strings with non-ASCII text at any position decode exactly', () => {
    const word = Buffer.from('Grüße – “quoted” café 😀 ');
    for (const size of [31, 32, 33, 63, 64, 65, 200, 4096, 70_000, 200_000]) {
      for (const at of [0, 1, size >> 1, size - 1]) {
        const bytes = new Uint8Array(size).fill(0x41);
        bytes.set(word.subarray(0, Math.max(0, Math.min(word.length, size - at))), at);
        const ascii = new Uint8Array(size).fill(0x7a);
        const broken = bytes.slice();
        broken[at] = 0xff;
        const root = decode(document([{ inline: bytes }, { inline: ascii }, { inline: broken }]));
        expect(contents(root)).toEqual([utf8(bytes), utf8(ascii), utf8(broken)]);
      }
    }
  });

  it('string table entries decode like inline strings, however often and in whatever order they are used', () => {
    fc.assert(
      fc.property(
        fc.array(textBytes, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (entries, picks) => {
          const table: number[] = [];
          const offsets: number[] = [];
          for (const entry of entries) {
            offsets.push(table.length);
            table.push(...entry, 0);
          }
          const chosen = picks.map((pick) => pick % entries.length);
          const root = decode(
            document(
              chosen.map((index) => ({ table: offsets[index]! })),
              table,
            ),
          );
          expect(contents(root)).toEqual(chosen.map((index) => utf8(entries[index]!)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a string table reference into the middle of an entry reads to that entry’s NUL', () => {
    const table = [...Buffer.from('IPM.Note.SMIME'), 0, ...Buffer.from('x'.repeat(100)), 0];
    const root = decode(document([{ table: 3 }, { table: 0 }, { table: 15 }, { table: 50 }], table));
    expect(contents(root)).toEqual(['.Note.SMIME', 'IPM.Note.SMIME', 'x'.repeat(100), 'x'.repeat(65)]);
  });

  it('refuses long strings without NUL and strings over the limit, at the same offsets as short ones', () => {
    const long = new Uint8Array(100).fill(0x41);
    const inline = Uint8Array.from([0x03, 0x01, 0x6a, 0x00, SYNC, STR_I, ...long]);
    expect(() => decode(inline)).toThrow(expect.objectContaining({ code: 'truncated', offset: 5 }));
    const shortUnterminated = Uint8Array.from([0x03, 0x01, 0x6a, 0x00, SYNC, STR_I, 0x41, 0x42]);
    expect(() => decode(shortUnterminated)).toThrow(
      expect.objectContaining({ code: 'truncated', offset: 5 }),
    );
    // A table entry that runs to the end of the table, though a NUL follows in the body.
    const table = [...long];
    expect(() => decode(document([{ table: 0 }], table))).toThrow(
      expect.objectContaining({ code: 'bad-string-reference' }),
    );
    for (const size of [5, 40, 100, 70_000]) {
      const bytes = document([{ inline: new Uint8Array(size).fill(0x41) }]);
      expect(() => decode(bytes, { maxStringBytes: size - 1 })).toThrow(
        expect.objectContaining({ code: 'limit-string', offset: 7 }),
      );
      expect(decode(bytes, { maxStringBytes: size }).children[0]!.text).toBe('A'.repeat(size));
    }
  });
});

describe('decode: OPAQUE', () => {
  const opaqueBytes = fc.uint8Array({ maxLength: 300 });

  it('every value reads back its own bytes, short values side by side in shared slabs, long ones alone', () => {
    fc.assert(
      fc.property(fc.array(opaqueBytes, { minLength: 1, maxLength: 40 }), (values) => {
        const root = decode(document(values.map((opaque) => ({ opaque }))));
        const decoded = root.children.map((child) => child.bytes!);
        expect(decoded).toEqual(values);
        // Writing into one value never shows in another.
        for (const value of decoded) value.fill(0xee);
        decoded.forEach((value, i) => {
          expect(value.length).toBe(values[i]!.length);
          expect(value.every((byte) => byte === 0xee)).toBe(true);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('fills more than one slab: thousands of short values stay intact', () => {
    const values = Array.from({ length: 3000 }, (_, i) =>
      Uint8Array.from({ length: 1 + (i % 40) }, (_, k) => (i + k) & 0xff),
    );
    const root = decode(document(values.map((opaque) => ({ opaque }))));
    expect(root.children.map((child) => child.bytes)).toEqual(values);
  });

  it('copies the bytes: changing the input after decoding changes nothing in the tree, Buffer input included', () => {
    const short = Uint8Array.from([1, 2, 3, 4]);
    const long = new Uint8Array(1000).fill(9);
    for (const input of [document([{ opaque: short }, { opaque: long }])]) {
      for (const bytes of [input.slice(), Buffer.from(input)]) {
        const root = decode(bytes);
        bytes.fill(0);
        expect(root.children.map((child) => child.bytes)).toEqual([short, long]);
      }
    }
  });
});

describe('decode without Node Buffer (browsers, workers)', () => {
  it('gives the same trees through TextDecoder', async () => {
    const texts: Uint8Array[] = [
      'Status',
      'IPM.Note',
      'a'.repeat(33),
      '"Chloé Müller" <chloe.muller@example.com>',
      `Grüße – “quoted” ${'x'.repeat(300)} 😀`,
    ].map((text) => Buffer.from(text));
    texts.push(
      Uint8Array.from([0x41, 0xff, 0x42, 0xe2, 0x82, 0x41]),
      Uint8Array.from([0xed, 0xa0, 0x80, 0x41]),
    );
    const pieces: Piece[] = [...texts, ...texts].map((inline) => ({ inline }));
    pieces.push({ opaque: Uint8Array.from([7, 8, 9]) });
    const bytes = document(pieces);
    const expected = decode(bytes);
    vi.resetModules();
    vi.stubGlobal('Buffer', undefined);
    try {
      const isolated = (await import('./decoder.js')) as typeof import('./decoder.js');
      expect(isolated.decode(bytes)).toEqual(expected);
      expect(() => isolated.decode(bytes.subarray(0, bytes.length - 10))).toThrow(
        expect.objectContaining({ name: 'WbxmlError', code: 'truncated' }),
      );
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });

  it('gives the same trees without process.getBuiltinModule (Node before 20.16: V8 decodes long strings)', async () => {
    const long = Buffer.from(`Grüße – “quoted” ${'x'.repeat(300)}`);
    const broken = Uint8Array.from([...long, 0xff, 0x41]);
    const bytes = document([{ inline: long }, { inline: broken }, { inline: Buffer.from('z'.repeat(400)) }]);
    const expected = decode(bytes);
    const processObject = globalThis.process as { getBuiltinModule?: unknown };
    const original = processObject.getBuiltinModule;
    vi.resetModules();
    processObject.getBuiltinModule = undefined;
    try {
      const isolated = (await import('./decoder.js')) as typeof import('./decoder.js');
      expect(isolated.decode(bytes)).toEqual(expected);
    } finally {
      processObject.getBuiltinModule = original;
      vi.resetModules();
    }
  });
});
