import { describe, expect, it } from 'vitest';
import { decode, decodeDocument } from './decoder.js';
import { WbxmlError, type WbxmlErrorCode } from './errors.js';
import { eas } from './tree.js';

const HEADER = [0x03, 0x01, 0x6a, 0x00];
const doc = (...body: number[]) => Uint8Array.from([...HEADER, ...body]);
const ascii = (text: string) => [...Buffer.from(text, 'utf8')];

function expectError(bytes: Uint8Array, code: WbxmlErrorCode, offset?: number, options = {}): WbxmlError {
  try {
    decode(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(WbxmlError);
    const wbxmlError = error as WbxmlError;
    expect(wbxmlError.code).toBe(code);
    if (offset !== undefined) expect(wbxmlError.offset).toBe(offset);
    expect(wbxmlError.message).toContain(`offset ${wbxmlError.offset}`);
    return wbxmlError;
  }
  throw new Error(`expected ${code}`);
}

describe('decode: header', () => {
  it('reads version, public id, charset and an empty string table', () => {
    const result = decodeDocument(doc(0x00, 0x07, 0x16));
    expect(result).toMatchObject({ version: 3, publicId: 1, charset: 106 });
    expect(result.root.qualifiedName).toBe('FolderHierarchy:FolderSync');
  });

  it('accepts WBXML 1.1 and 1.2 version bytes and charset 0', () => {
    expect(decodeDocument(Uint8Array.from([0x01, 0x01, 0x00, 0x00, 0x05])).version).toBe(1);
    expect(decodeDocument(Uint8Array.from([0x02, 0x01, 0x6a, 0x00, 0x05])).charset).toBe(106);
  });

  it('accepts a public id given as a string table reference', () => {
    const table = [...ascii('-//AIRSYNC//DTD AirSync//EN'), 0];
    const bytes = Uint8Array.from([0x03, 0x00, 0x00, 0x6a, table.length, ...table, 0x05]);
    expect(decodeDocument(bytes).publicId).toBe(0);
  });

  it('refuses other versions, charsets, and out-of-range public id references', () => {
    expectError(Uint8Array.from([0x00, 0x01, 0x6a, 0x00, 0x05]), 'unsupported-version', 0);
    expectError(Uint8Array.from([0x04, 0x01, 0x6a, 0x00, 0x05]), 'unsupported-version', 0);
    expectError(Uint8Array.from([0x03, 0x01, 0x04, 0x00, 0x05]), 'unsupported-charset', 2);
    expectError(Uint8Array.from([0x03, 0x00, 0x05, 0x6a, 0x00, 0x05]), 'bad-string-reference');
  });

  it('refuses empty and truncated headers', () => {
    expectError(new Uint8Array(0), 'truncated', 0);
    expectError(Uint8Array.from([0x03]), 'truncated', 1);
    expectError(Uint8Array.from([0x03, 0x01, 0x6a]), 'truncated', 3);
    expectError(Uint8Array.from([0x03, 0x01, 0x6a, 0x05, 0x41]), 'truncated', 3);
  });

  it('refuses a header with no root element', () => {
    expectError(doc(), 'no-root', 4);
    expectError(doc(0x00, 0x01), 'no-root');
  });
});

describe('decode: multi-byte integers', () => {
  it('reads multi-byte lengths', () => {
    const data = new Uint8Array(200).fill(7);
    const root = decode(doc(0x00, 0x15, 0x50, 0xc3, 0x81, 0x48, ...data, 0x01));
    expect(root.bytes).toEqual(data);
  });

  it('refuses integers longer than 5 bytes and values beyond 32 bits', () => {
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 'mb-int-overlong', 8);
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x90, 0x80, 0x80, 0x80, 0x00), 'mb-int-overflow', 8);
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x8f, 0xff, 0xff, 0xff, 0x7f), 'limit-opaque', 7);
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x81), 'truncated', 8);
  });
});

describe('decode: tokens', () => {
  it('SWITCH_PAGE changes the page for the tags that follow, across END', () => {
    const root = decode(doc(0x45, 0x00, 0x11, 0x4a, 0x46, 0x03, ...ascii('1'), 0x00, 0x01, 0x01, 0x16, 0x01));
    expect(root.children.map((child) => child.qualifiedName)).toEqual([
      'AirSyncBase:Body',
      'AirSyncBase:NativeBodyType',
    ]);
  });

  it('refuses an unknown page and a truncated SWITCH_PAGE', () => {
    expectError(doc(0x00, 0x1a, 0x05), 'unknown-page', 5);
    expectError(doc(0x00, 0xff, 0x05), 'unknown-page', 5);
    expectError(doc(0x00), 'truncated', 4);
  });

  it('reads tags with and without content', () => {
    const root = decode(doc(0x45, 0x1e, 0x13, 0x01));
    expect(root.children.map((child) => [child.name, child.content])).toEqual([
      ['DeletesAsMoves', []],
      ['GetChanges', []],
    ]);
    expect(decode(doc(0x45, 0x01)).content).toEqual([]);
  });

  it('refuses unknown tokens on a page and tags with attributes', () => {
    expectError(doc(0x45, 0x3f, 0x01), 'unknown-tag', 5);
    expectError(doc(0x00, 0x19, 0x7f), 'unknown-tag', 6);
    expectError(doc(0x85, 0x01), 'attributes', 4);
    expectError(doc(0xc5, 0x01, 0x01), 'attributes', 4);
  });

  it('STR_I reads UTF-8 up to NUL, and consecutive strings join', () => {
    const root = decode(
      doc(0x00, 0x02, 0x54, 0x03, ...ascii('Grüße '), 0x00, 0x03, ...ascii('🙂'), 0x00, 0x01),
    );
    expect(root.text).toBe('Grüße 🙂');
    expect(decode(doc(0x00, 0x02, 0x54, 0x03, 0x00, 0x01)).content).toBe('');
  });

  it('STR_I without a terminating NUL is truncated input', () => {
    expectError(doc(0x00, 0x02, 0x54, 0x03, ...ascii('abc')), 'truncated', 7);
  });

  it('STR_T reads from the string table', () => {
    const table = [...ascii('first'), 0, ...ascii('second'), 0];
    const bytes = Uint8Array.from([
      0x03,
      0x01,
      0x6a,
      table.length,
      ...table,
      0x00,
      0x02,
      0x54,
      0x83,
      6,
      0x01,
    ]);
    expect(decode(bytes).text).toBe('second');
  });

  it('refuses STR_T references outside the table or without NUL', () => {
    const table = [...ascii('ab')];
    const header = [0x03, 0x01, 0x6a, table.length, ...table];
    expectError(Uint8Array.from([...header, 0x00, 0x02, 0x54, 0x83, 5, 0x01]), 'bad-string-reference');
    expectError(Uint8Array.from([...header, 0x00, 0x02, 0x54, 0x83, 0, 0x01]), 'bad-string-reference');
  });

  it('OPAQUE reads bytes, including NUL, as a Uint8Array copy', () => {
    const input = doc(0x00, 0x15, 0x50, 0xc3, 0x04, 0x00, 0xff, 0x01, 0x03, 0x01);
    const root = decode(input);
    expect(root.bytes).toEqual(Uint8Array.from([0x00, 0xff, 0x01, 0x03]));
    input[9] = 0x42;
    expect(root.bytes![0]).toBe(0x00);
  });

  it('refuses OPAQUE longer than the input', () => {
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x10, 0x01, 0x01), 'truncated', 7);
  });

  it('refuses the global tokens EAS never uses', () => {
    const unused: [number, string][] = [
      [0x02, 'ENTITY'],
      [0x04, 'LITERAL'],
      [0x40, 'EXT_I_0'],
      [0x41, 'EXT_I_1'],
      [0x42, 'EXT_I_2'],
      [0x43, 'PI'],
      [0x44, 'LITERAL_C'],
      [0x80, 'EXT_T_0'],
      [0x81, 'EXT_T_1'],
      [0x82, 'EXT_T_2'],
      [0x84, 'LITERAL_A'],
      [0xc0, 'EXT_0'],
      [0xc1, 'EXT_1'],
      [0xc2, 'EXT_2'],
      [0xc4, 'LITERAL_AC'],
    ];
    for (const [token, name] of unused) {
      const error = expectError(doc(0x45, token, 0x00, 0x01), 'unsupported-token', 5);
      expect(error.message).toContain(name);
    }
  });

  it('refuses END with nothing open, trailing data and a second root', () => {
    expectError(doc(0x01), 'unbalanced-end', 4);
    expectError(doc(0x45, 0x01, 0x01), 'trailing-data', 6);
    expectError(doc(0x05, 0x05), 'trailing-data', 5);
    expectError(doc(0x45, 0x01, 0x00, 0x00), 'trailing-data', 6);
  });

  it('refuses input that ends with elements open', () => {
    expectError(doc(0x45, 0x5c), 'truncated', 6);
  });

  it('refuses strings or bytes outside an element and mixed content', () => {
    expectError(doc(0x03, 0x41, 0x00, 0x05), 'text-outside-element', 4);
    expectError(doc(0xc3, 0x00, 0x05), 'text-outside-element', 4);
    expectError(doc(0x45, 0x4b, 0x03, 0x31, 0x00, 0x01, 0x03, 0x31, 0x00, 0x01), 'mixed-content', 10);
    expectError(doc(0x45, 0x03, 0x31, 0x00, 0x4b, 0x01, 0x01), 'mixed-content', 8);
    expectError(doc(0x00, 0x15, 0x50, 0x03, 0x31, 0x00, 0xc3, 0x00, 0x01), 'mixed-content', 10);
  });
});

describe('decode: limits', () => {
  it('limits input size, depth, node count, string and opaque length', () => {
    expectError(doc(0x05), 'limit-input', 0, { maxInputBytes: 4 });
    const deep = doc(...new Array(10).fill(0x4f), ...new Array(10).fill(0x01));
    expect(() => decode(deep, { maxDepth: 10 })).not.toThrow();
    expectError(deep, 'limit-depth', 13, { maxDepth: 9 });
    expectError(doc(0x45, 0x1e, 0x13, 0x01), 'limit-nodes', 6, { maxNodes: 2 });
    expectError(doc(0x00, 0x02, 0x54, 0x03, ...ascii('abcdef'), 0x00, 0x01), 'limit-string', 8, {
      maxStringBytes: 5,
    });
    expectError(doc(0x00, 0x15, 0x50, 0xc3, 0x03, 1, 2, 3, 0x01), 'limit-opaque', 7, { maxOpaqueBytes: 2 });
  });

  it('refuses invalid limit values', () => {
    expect(() => decode(doc(0x05), { maxDepth: 0 })).toThrow(RangeError);
  });

  it('decodes deep nesting within the limit without recursion', () => {
    const depth = 5000;
    const bytes = doc(...new Array(depth).fill(0x4f), ...new Array(depth).fill(0x01));
    let node = decode(bytes, { maxDepth: depth });
    let seen = 1;
    while (node.children.length > 0) {
      node = node.children[0]!;
      seen++;
    }
    expect(seen).toBe(depth);
  });
});

describe('decode: a realistic request', () => {
  it('gives a tree that reads like the XML', () => {
    const { AirSync } = eas;
    const root = decode(
      doc(
        0x45,
        0x5c,
        0x4f,
        0x4b,
        0x03,
        ...ascii('0'),
        0x00,
        0x01,
        0x52,
        0x03,
        ...ascii('5'),
        0x00,
        0x01,
        0x01,
        0x01,
        0x01,
      ),
    );
    expect(root).toEqual(
      AirSync.Sync(AirSync.Collections(AirSync.Collection(AirSync.SyncKey('0'), AirSync.CollectionId(5)))),
    );
    const collection = root.require('Collections').require('Collection');
    expect(collection.textOf('SyncKey')).toBe('0');
    expect(collection.intOf('CollectionId')).toBe(5);
  });
});
