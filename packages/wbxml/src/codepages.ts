import { CODE_PAGE_DATA } from './codepages.data.js';

type CodePageData = typeof CODE_PAGE_DATA;

/** The EAS namespace of a code page: `AirSync`, `Email`, `AirSyncBase`, ... (MS-ASWBXML 2.1.2.1). */
export type Namespace = CodePageData[number]['namespace'];

/** The tag names of one namespace, e.g. `TagName<'AirSync'>` is `'Sync' | 'Responses' | ...`. */
export type TagName<N extends Namespace> = keyof Extract<CodePageData[number], { namespace: N }>['tags'] &
  string;

/** EAS protocol versions, in order. */
export const PROTOCOL_VERSIONS = ['2.5', '12.0', '12.1', '14.0', '14.1', '16.0', '16.1'] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

export interface TagInfo {
  readonly namespace: Namespace;
  readonly name: string;
  readonly page: number;
  /** The tag token, 0x05-0x3F. */
  readonly token: number;
  /** First protocol version that carries the tag (`2.0/2.5` for the retired AirNotify page). */
  readonly since: string;
  /** Last protocol version that carries the tag, when it was dropped before 16.1. */
  readonly until: string | undefined;
  /** True for tokens absent from the current MS-ASWBXML tables but sent by 2.5-era clients. */
  readonly legacy: boolean;
  /** Other spellings accepted when parsing XML (libwbxml's and Microsoft's test suite's). */
  readonly aliases: readonly string[];
}

export interface CodePage {
  readonly page: number;
  readonly namespace: Namespace;
  /** False for page 3 (AirNotify), which MS-ASWBXML lists as no longer in use. */
  readonly inUse: boolean;
  readonly tags: readonly TagInfo[];
}

interface RawTag {
  readonly token: number;
  readonly since: string;
  readonly until?: string;
  readonly legacy?: boolean;
  readonly aliases?: readonly string[];
}

const PAGE_SLOTS = 64;

function buildCodePages(): readonly CodePage[] {
  return CODE_PAGE_DATA.map((page) => {
    const tags = Object.entries(page.tags as Record<string, RawTag>).map(
      ([name, raw]): TagInfo =>
        Object.freeze({
          namespace: page.namespace,
          name,
          page: page.page,
          token: raw.token,
          since: raw.since,
          until: raw.until,
          legacy: raw.legacy === true,
          aliases: Object.freeze([...(raw.aliases ?? [])]),
        }),
    );
    return Object.freeze({
      page: page.page,
      namespace: page.namespace,
      inUse: page.inUse,
      tags: Object.freeze(tags),
    });
  });
}

/** All EAS code pages, 0-25, in page order. */
export const CODE_PAGES: readonly CodePage[] = Object.freeze(buildCodePages());

/** Every namespace, in code page order. */
export const NAMESPACES: readonly Namespace[] = Object.freeze(CODE_PAGES.map((page) => page.namespace));

// Lookup tables: by (page, token) in a flat array, by (namespace, name or alias) in nested maps.
const byCode: (TagInfo | undefined)[] = new Array(CODE_PAGES.length * PAGE_SLOTS).fill(undefined);
const byName = new Map<string, Map<string, TagInfo>>();
const pageByNamespace = new Map<string, CodePage>();
const namespaceByLowerCase = new Map<string, Namespace>();

for (const page of CODE_PAGES) {
  const names = new Map<string, TagInfo>();
  for (const tag of page.tags) {
    byCode[page.page * PAGE_SLOTS + tag.token] = tag;
    names.set(tag.name, tag);
  }
  for (const tag of page.tags) {
    for (const alias of tag.aliases) if (!names.has(alias)) names.set(alias, tag);
  }
  byName.set(page.namespace, names);
  pageByNamespace.set(page.namespace, page);
  namespaceByLowerCase.set(page.namespace.toLowerCase(), page.namespace);
}

/** Number of code pages known (pages are 0 .. PAGE_COUNT-1). */
export const PAGE_COUNT = CODE_PAGES.length;

/** The tag with this token on this page, or undefined. Hot path of the decoder. */
export function tagByToken(page: number, token: number): TagInfo | undefined {
  return byCode[page * PAGE_SLOTS + token];
}

/** The tag with this name (or accepted alias) in this namespace, or undefined. */
export function tagByName(namespace: string, name: string): TagInfo | undefined {
  return byName.get(namespace)?.get(name);
}

export function codePage(pageOrNamespace: number | string): CodePage | undefined {
  return typeof pageOrNamespace === 'number'
    ? CODE_PAGES[pageOrNamespace]
    : pageByNamespace.get(pageOrNamespace);
}

/**
 * Maps a namespace as written in XML to ours: exact names, any letter case, and libwbxml's URI form with a
 * trailing colon (`AirSync:`) are accepted.
 */
export function namespaceFromXml(uri: string): Namespace | undefined {
  const bare = uri.endsWith(':') ? uri.slice(0, -1) : uri;
  return namespaceByLowerCase.get(bare.toLowerCase());
}
