// Interop with libwbxml (Debian libwbxml2-utils), an independent WBXML implementation:
//   A. libwbxml encodes (`xml2wbxml -a -n -v 1.3`), we decode: same tree as the XML it was given.
//   B. we encode, libwbxml decodes (`wbxml2xml -l ACTIVESYNC -m 1 -i 1`): same document as the tree we encoded.
// The corpus (test/interop/corpus.ts) covers every code page 0-24 and every tag libwbxml knows; what libwbxml
// knows, and how it spells it, is recorded in test/interop/libwbxml.ts and re-checked here against the tools.
//
// Without the tools these tests skip with one warning, except under CI, where the missing tools are a failure.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interopCorpus, tagsUsed } from '../test/interop/corpus.js';
import {
  fromLibwbxmlXml,
  LIBWBXML_ABSENT,
  LIBWBXML_LAST_PAGE,
  LIBWBXML_NAMES,
  LIBWBXML_OPAQUE,
  LIBWBXML_VERSION,
  LibwbxmlTools,
  libwbxmlKnows,
  libwbxmlName,
  libwbxmlOpaque,
  libwbxmlTags,
  missingTools,
  PARSER_GAPS,
  toLibwbxmlXml,
  unresolvedSpellings,
} from '../test/interop/libwbxml.js';
import { CODE_PAGES, decode, eas, encode, fromXml, tagByName, tagByToken, WbxmlElement } from './index.js';

const missing = missingTools();
// CI=false or CI=0 count as not set.
const underCi = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? '');
if (missing.length > 0 && !underCi) {
  console.warn(
    `[@easkit/wbxml] libwbxml interop tests SKIPPED: ${missing.join(' and ')} not found on PATH; install the Debian package libwbxml2-utils to run them`,
  );
}

const corpus = interopCorpus();

describe('libwbxml interop: corpus and tables', () => {
  it('has one document per code page 0-24', () => {
    const pages = corpus.filter((doc) => doc.id.startsWith('page ')).map((doc) => doc.tree);
    expect(pages).toHaveLength(LIBWBXML_LAST_PAGE + 1);
    for (const page of CODE_PAGES.filter((p) => p.page <= LIBWBXML_LAST_PAGE)) {
      expect(corpus.some((doc) => doc.id.startsWith(`page ${String(page.page).padStart(2, '0')} `))).toBe(
        true,
      );
    }
  });

  it('uses every tag libwbxml knows, and no other', () => {
    const used = new Set<string>();
    for (const doc of corpus) for (const tag of tagsUsed(doc.tree)) used.add(`${tag.namespace}:${tag.name}`);
    const known = libwbxmlTags().map((tag) => `${tag.namespace}:${tag.name}`);
    expect(known.filter((name) => !used.has(name))).toEqual([]);
    expect([...used].filter((name) => !known.includes(name))).toEqual([]);
    // 25 pages, all but three of our tags on them.
    expect(known.length).toBe(CODE_PAGES.slice(0, LIBWBXML_LAST_PAGE + 1).flatMap((p) => p.tags).length - 3);
  });

  it('carries bytes in every element libwbxml treats as opaque, and non-ASCII text', () => {
    const opaque = new Set<string>();
    let nonAscii = 0;
    const visit = (element: (typeof corpus)[number]['tree']): void => {
      if (element.bytes) opaque.add(element.qualifiedName);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
      if (/[^\u0000-\u007f]/.test(element.text ?? '')) nonAscii++;
      for (const child of element.children) visit(child);
    };
    for (const doc of corpus) visit(doc.tree);
    expect([...opaque].sort()).toEqual([...LIBWBXML_OPAQUE].sort());
    expect(nonAscii).toBeGreaterThan(50);
  });

  it('names only real tags of ours in the alias and exclusion tables', () => {
    const entries: [string, string][] = [
      ...Object.entries(LIBWBXML_NAMES).flatMap(([ns, names]) =>
        Object.keys(names ?? {}).map((name): [string, string] => [ns, name]),
      ),
      ...Object.entries(LIBWBXML_ABSENT).flatMap(([ns, names]) =>
        (names ?? []).map((name): [string, string] => [ns, name]),
      ),
    ];
    for (const [ns, name] of entries) expect(tagByName(ns, name)?.name, `${ns}:${name}`).toBe(name);
  });

  it('parses every libwbxml spelling to the same tag, except the recorded gaps', () => {
    // A gap means `easkit-wbxml encode` would refuse that wbxml2xml output; see PARSER_GAPS.
    for (const spelling of unresolvedSpellings()) expect(PARSER_GAPS).toContain(spelling);
  });

  it('renders and reads the libwbxml XML dialect without loss (no tools needed)', () => {
    for (const doc of corpus) expect(fromLibwbxmlXml(toLibwbxmlXml(doc.tree)), doc.id).toEqual(doc.tree);
  });
});

describe('libwbxml interop: the tools', () => {
  it.skipIf(missing.length > 0 && !underCi)('xml2wbxml and wbxml2xml (libwbxml2-utils) are installed', () => {
    if (missing.length > 0) {
      throw new Error(
        `CI is set but ${missing.join(' and ')} are missing: install the Debian package libwbxml2-utils (.ci/run does)`,
      );
    }
  });
});

describe.skipIf(missing.length > 0)(`libwbxml interop (libwbxml ${LIBWBXML_VERSION})`, () => {
  let tools: LibwbxmlTools;
  beforeAll(async () => {
    tools = await LibwbxmlTools.create();
  });
  afterAll(async () => {
    await tools?.dispose();
  });

  it("the recorded tables equal libwbxml's decoding of every token 0x05-0x3F on every page 0-25", async () => {
    const tokens = Array.from({ length: 0x3f - 0x05 + 1 }, (_, i) => 0x05 + i);
    for (let page = 0; page < CODE_PAGES.length; page++) {
      // A root (token 0x05 with content) holding every token with the OPAQUE bytes "ABC", then END.
      const body = tokens.flatMap((token) => [token | 0x40, 0xc3, 0x03, 0x41, 0x42, 0x43, 0x01]);
      const bytes = Uint8Array.from([0x03, 0x01, 0x6a, 0x00, 0x00, page, 0x45, ...body, 0x01]);
      const xml = await tools.wbxml2xml(bytes);
      const theirs = [...xml.matchAll(/^ <([A-Za-z0-9_-]+)[^>]*>([^<]*)</gm)].map((m) => `${m[1]} ${m[2]}`);
      const ours = tokens.map((token) => {
        const tag = tagByToken(page, token);
        if (!tag || !libwbxmlKnows(tag)) return 'unknown ABC';
        return `${libwbxmlName(tag)} ${libwbxmlOpaque(tag) ? 'QUJD' : 'ABC'}`;
      });
      expect(theirs, `page ${page}: rerun test/interop/probe-libwbxml.mjs and update the tables`).toEqual(
        ours,
      );
    }
  });

  it("the recorded tables equal libwbxml's encoding of every tag it knows", async () => {
    for (const page of CODE_PAGES.filter((p) => p.page <= LIBWBXML_LAST_PAGE)) {
      // Every tag with the text "QUJD": libwbxml's opaque elements come out as the bytes "ABC".
      const tags = page.tags.filter(libwbxmlKnows);
      const tree = new WbxmlElement(
        tags[0]!,
        tags.map((tag) => new WbxmlElement(tag, 'QUJD')),
      );
      const decoded = decode(await tools.xml2wbxml(toLibwbxmlXml(tree)));
      const expected = tags.map((tag) =>
        libwbxmlOpaque(tag)
          ? new WbxmlElement(tag, Uint8Array.of(0x41, 0x42, 0x43))
          : new WbxmlElement(tag, 'QUJD'),
      );
      expect(decoded.children, `page ${page.page}: rerun test/interop/probe-libwbxml.mjs`).toEqual(expected);
    }
  });

  it('xml2wbxml silently takes a tag from another page when a name is not on its own (why spellings matter)', async () => {
    // Our spelling ComposeMail:Name is unknown to libwbxml, which then finds Name on the Search page.
    const xml = toLibwbxmlXml(eas.ComposeMail.Forwardee(eas.ComposeMail.Name('x'))).replace(
      '<ForwardeeName>x</ForwardeeName>',
      '<Name>x</Name>',
    );
    const tree = decode(await tools.xml2wbxml(xml));
    expect(tree.children[0]?.qualifiedName).toBe('Search:Name');
  });

  for (const doc of corpus) {
    it(`A: xml2wbxml -> our decode: ${doc.id}`, async () => {
      const xml = toLibwbxmlXml(doc.tree);
      const bytes = await tools.xml2wbxml(xml);
      const tree = decode(bytes);
      expect(tree).toEqual(fromLibwbxmlXml(xml));
      expect(tree).toEqual(doc.tree);
      // Both encoders make the same choices (STR_I, no string table, SWITCH_PAGE only when needed).
      expect(hex(bytes)).toBe(hex(encode(doc.tree)));
    });

    it(`B: our encode -> wbxml2xml: ${doc.id}`, async () => {
      const xml = await tools.wbxml2xml(encode(doc.tree));
      expect(fromLibwbxmlXml(xml)).toEqual(doc.tree);
      // Not only the same tree: the same document, character for character.
      expect(xml).toBe(toLibwbxmlXml(doc.tree));
    });
  }

  describe('golden vectors (test/fixtures/vectors)', () => {
    const dir = join(import.meta.dirname, '../test/fixtures/vectors');
    const ids = readdirSync(dir)
      .filter((name) => name.endsWith('.xml'))
      .map((name) => name.slice(0, -4));

    it('has vectors to run', () => {
      expect(ids.length).toBeGreaterThanOrEqual(6);
    });

    // libwbxml has no page 25 (Find): a vector that uses it is held by our codec's own vector test only.
    const vectors = ids.map((id) => {
      const tree = fromXml(readFileSync(join(dir, `${id}.xml`), 'utf8'));
      const bytes = Uint8Array.from(
        readFileSync(join(dir, `${id}.hex`), 'utf8')
          .trim()
          .split(/\s+/)
          .map((pair) => Number.parseInt(pair, 16)),
      );
      const beyond = [...tagsUsed(tree)].some((tag) => tag.page > LIBWBXML_LAST_PAGE);
      return { id, tree, bytes, beyond };
    });

    it('compares every vector libwbxml can read (none uses page 25 today)', () => {
      expect(vectors.filter((vector) => vector.beyond).map((vector) => vector.id)).toEqual([]);
    });

    for (const { id, tree, bytes } of vectors.filter((vector) => !vector.beyond)) {
      it(`${id}: xml2wbxml gives the vector's bytes, and we decode them`, async () => {
        const encoded = await tools.xml2wbxml(toLibwbxmlXml(tree));
        expect(decode(encoded)).toEqual(tree);
        expect(hex(encoded)).toBe(hex(bytes));
      });

      it(`${id}: wbxml2xml reads the vector's bytes as its XML`, async () => {
        expect(fromLibwbxmlXml(await tools.wbxml2xml(bytes))).toEqual(tree);
      });
    }
  });
});

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
