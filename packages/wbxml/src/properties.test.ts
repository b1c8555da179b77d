import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODE_PAGES, type TagInfo } from './codepages.js';
import { decode } from './decoder.js';
import { encode } from './encoder.js';
import { WbxmlError } from './errors.js';
import { type WbxmlContent, WbxmlElement } from './tree.js';
import { fromXml, toXml, toXmlBytes } from './xml.js';

const allTags: TagInfo[] = CODE_PAGES.flatMap((page) => [...page.tags]);
const tagArbitrary = fc.constantFrom(...allTags);
// Any Unicode scalar values except NUL, which WBXML strings cannot carry.
// Any code point but NUL (the string terminator) and lone surrogates; built from code points because
// fc.string({ unit: 'binary' }) spends seconds building a table on first use.
const textArbitrary = fc
  .array(
    fc.integer({ min: 1, max: 0x10ffff }).filter((code) => code < 0xd800 || code > 0xdfff),
    { maxLength: 24 },
  )
  .map((codes) => String.fromCodePoint(...codes));
const bytesArbitrary = fc.uint8Array({ maxLength: 48 });

const treeArbitrary = fc.letrec<{ node: WbxmlElement }>((tie) => ({
  node: fc
    .tuple(
      tagArbitrary,
      fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant<WbxmlElement[]>([]),
        textArbitrary,
        bytesArbitrary,
        fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
      ),
    )
    .map(([tag, content]) => new WbxmlElement(tag, content as WbxmlContent)),
})).node;

function expectTreeOrWbxmlError(run: () => unknown): void {
  try {
    const result = run();
    expect(result).toBeInstanceOf(WbxmlElement);
  } catch (error) {
    if (!(error instanceof WbxmlError)) throw error;
  }
}

describe('properties', () => {
  it('random trees over the real code pages round-trip through WBXML exactly', () => {
    fc.assert(
      fc.property(treeArbitrary, (tree) => {
        expect(decode(encode(tree))).toEqual(tree);
      }),
      { numRuns: 500 },
    );
  });

  it('random trees round-trip through XML text exactly, indented or compact', () => {
    fc.assert(
      fc.property(treeArbitrary, fc.constantFrom(0, 1, 2), (tree, indent) => {
        expect(fromXml(toXml(tree, { indent, declaration: indent === 1 }))).toEqual(tree);
      }),
      { numRuns: 500 },
    );
  });

  it('toXmlBytes (the CLI output) is exactly the UTF-8 of toXml', () => {
    fc.assert(
      fc.property(treeArbitrary, fc.constantFrom(0, 1, 2), (tree, indent) => {
        const options = { indent, declaration: indent === 1 };
        expect(Buffer.from(toXmlBytes(tree, options)).equals(Buffer.from(toXml(tree, options), 'utf8'))).toBe(
          true,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes after a valid header only ever give a tree or a WbxmlError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (body) => {
        const bytes = new Uint8Array(4 + body.length);
        bytes.set([0x03, 0x01, 0x6a, 0x00]);
        bytes.set(body, 4);
        expectTreeOrWbxmlError(() => decode(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('fully random bytes only ever give a tree or a WbxmlError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expectTreeOrWbxmlError(() => decode(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid documents only ever give a tree or a WbxmlError, and what decodes re-encodes', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'truncate', 'insert', 'delete'),
      value: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(treeArbitrary, fc.array(mutation, { minLength: 1, maxLength: 4 }), (tree, mutations) => {
        let bytes = Array.from(encode(tree));
        for (const { at, kind, value } of mutations) {
          const index = at % (bytes.length + 1);
          if (kind === 'flip') bytes[index % bytes.length] = value;
          else if (kind === 'truncate') bytes = bytes.slice(0, index);
          else if (kind === 'insert') bytes.splice(index, 0, value);
          else bytes.splice(index, 1);
        }
        const input = Uint8Array.from(bytes);
        try {
          const decoded = decode(input, { maxDepth: 16, maxNodes: 10_000 });
          expect(decode(encode(decoded))).toEqual(decoded);
        } catch (error) {
          if (!(error instanceof WbxmlError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random and mutated XML text only ever gives a tree or a WbxmlError', () => {
    const mutatedXml = fc
      .tuple(treeArbitrary, fc.nat(), fc.string({ maxLength: 6 }), fc.nat({ max: 8 }))
      .map(([tree, at, insert, cut]) => {
        const xml = toXml(tree, { indent: 1 });
        const index = at % (xml.length + 1);
        return xml.slice(0, index) + insert + xml.slice(index + cut);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), mutatedXml), (xml) => {
        expectTreeOrWbxmlError(() => fromXml(xml));
      }),
      { numRuns: 3000 },
    );
  });
});
