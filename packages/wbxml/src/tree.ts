import { CODE_PAGES, type Namespace, type TagInfo, type TagName, tagByName } from './codepages.js';
import { WbxmlError } from './errors.js';

/**
 * What an element holds: child elements (possibly none), a string (sent as STR_I), or bytes (sent as OPAQUE).
 * EAS never mixes text and elements in one element, so neither does this tree.
 */
export type WbxmlContent = WbxmlElement[] | string | Uint8Array;

const NO_CHILDREN: readonly WbxmlElement[] = Object.freeze([]);

/**
 * One element of an EAS document. Build trees with `eas.<Namespace>.<Tag>(...)` or `element()`; read them with
 * `child`, `all`, `textOf`, `intOf`. Child names may be bare (`'SyncKey'`, any namespace) or qualified
 * (`'AirSyncBase:Body'`) where two namespaces share a name.
 */
export class WbxmlElement {
  readonly tag: TagInfo;
  content: WbxmlContent;

  constructor(tag: TagInfo, content: WbxmlContent = []) {
    this.tag = tag;
    this.content = content;
  }

  get namespace(): Namespace {
    return this.tag.namespace;
  }

  get name(): string {
    return this.tag.name;
  }

  /** `Namespace:Name`. */
  get qualifiedName(): string {
    return `${this.tag.namespace}:${this.tag.name}`;
  }

  /** Child elements; empty when the element holds a string or bytes. */
  get children(): readonly WbxmlElement[] {
    return Array.isArray(this.content) ? this.content : NO_CHILDREN;
  }

  /** The string content; `''` for an element with no content at all; undefined for children or bytes. */
  get text(): string | undefined {
    const content = this.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content) && content.length === 0) return '';
    return undefined;
  }

  /** The OPAQUE content, or undefined. */
  get bytes(): Uint8Array | undefined {
    return this.content instanceof Uint8Array ? this.content : undefined;
  }

  /** The first child with this name, or undefined. */
  child(name: string): WbxmlElement | undefined {
    const content = this.content;
    if (!Array.isArray(content)) return undefined;
    const match = nameMatcher(name);
    for (const item of content) if (match(item.tag)) return item;
    return undefined;
  }

  /** The first child with this name; throws `WbxmlError` (`invalid-tree`) when there is none. */
  require(name: string): WbxmlElement {
    const found = this.child(name);
    if (!found) throw new WbxmlError('invalid-tree', -1, `${this.qualifiedName} has no ${name}`);
    return found;
  }

  /** Every child with this name, in document order. */
  all(name: string): WbxmlElement[] {
    const content = this.content;
    if (!Array.isArray(content)) return [];
    const match = nameMatcher(name);
    return content.filter((item) => match(item.tag));
  }

  has(name: string): boolean {
    return this.child(name) !== undefined;
  }

  /** The text of the first child with this name, or undefined when absent. */
  textOf(name: string): string | undefined {
    return this.child(name)?.text;
  }

  /**
   * The first child with this name read as a decimal integer; undefined when absent. A present child that is
   * not an integer throws `WbxmlError` (`invalid-tree`): callers map that to their protocol error status.
   */
  intOf(name: string): number | undefined {
    const found = this.child(name);
    if (!found) return undefined;
    const text = found.text?.trim() ?? '';
    if (!/^-?\d{1,15}$/.test(text)) {
      throw new WbxmlError(
        'invalid-tree',
        -1,
        `${found.qualifiedName} is not an integer: ${JSON.stringify(text)}`,
      );
    }
    return Number(text);
  }

  /** EAS booleans are `0`/`1`; an empty element counts as true (e.g. `DeletesAsMoves` in 2.5). */
  boolOf(name: string): boolean | undefined {
    const found = this.child(name);
    if (!found) return undefined;
    const text = found.text?.trim();
    return text === '' || text === '1' || text?.toLowerCase() === 'true';
  }

  /** The bytes of the first child with this name: OPAQUE content, or its string as UTF-8. */
  bytesOf(name: string): Uint8Array | undefined {
    const found = this.child(name);
    if (!found) return undefined;
    return found.bytes ?? new TextEncoder().encode(found.text ?? '');
  }
}

function nameMatcher(name: string): (tag: TagInfo) => boolean {
  const colon = name.indexOf(':');
  if (colon < 0) return (tag) => tag.name === name;
  const namespace = name.slice(0, colon);
  const local = name.slice(colon + 1);
  return (tag) => tag.name === local && tag.namespace === namespace;
}

/** What builders accept as content: elements and arrays of them, one string or number, or bytes. */
export type ContentArg =
  | WbxmlElement
  | string
  | number
  | bigint
  | Uint8Array
  | null
  | undefined
  | false
  | readonly ContentArg[];

/**
 * Builds one element. Strings and numbers become text; a Uint8Array becomes OPAQUE bytes; elements (and
 * arrays of them) become children; `null`, `undefined` and `false` are skipped, so optional fields read
 * naturally: `eas.Email.Subject(subject ?? null)`.
 */
export function element<N extends Namespace>(
  namespace: N,
  name: TagName<N>,
  ...content: ContentArg[]
): WbxmlElement {
  const tag = tagByName(namespace, name);
  if (!tag) throw new WbxmlError('unknown-tag', -1, `unknown tag ${namespace}:${name}`);
  return new WbxmlElement(tag, normalizeContent(tag, content));
}

function normalizeContent(tag: TagInfo, args: readonly ContentArg[]): WbxmlContent {
  if (args.length === 1) {
    const only = args[0];
    if (typeof only === 'string') return only;
    if (typeof only === 'number' || typeof only === 'bigint') return String(only);
    if (only instanceof Uint8Array) return only;
    if (only instanceof WbxmlElement) return [only];
  }
  let children: WbxmlElement[] | undefined;
  let scalar: string | Uint8Array | undefined;
  const visit = (items: readonly ContentArg[]): void => {
    for (const item of items) {
      if (item === null || item === undefined || item === false) continue;
      if (item instanceof WbxmlElement) {
        if (children === undefined) children = [];
        children.push(item);
      } else if (Array.isArray(item)) {
        visit(item);
      } else if (scalar !== undefined) {
        throw new WbxmlError(
          'invalid-tree',
          -1,
          `${tag.namespace}:${tag.name} given more than one text value`,
        );
      } else if (item instanceof Uint8Array) {
        scalar = item;
      } else {
        scalar = String(item);
      }
    }
  };
  visit(args);
  if (children && scalar !== undefined) {
    throw new WbxmlError(
      'invalid-tree',
      -1,
      `${tag.namespace}:${tag.name} given both text and child elements`,
    );
  }
  return scalar ?? children ?? [];
}

type TagBuilder = (...content: ContentArg[]) => WbxmlElement;

/** Builders for every tag of every namespace: `eas.AirSync.SyncKey('0')`, typed by the code page tables. */
export type EasBuilders = { readonly [N in Namespace]: { readonly [T in TagName<N>]: TagBuilder } };

function buildBuilders(): EasBuilders {
  const result: Record<string, Record<string, TagBuilder>> = {};
  for (const page of CODE_PAGES) {
    const perTag: Record<string, TagBuilder> = {};
    for (const tag of page.tags) {
      perTag[tag.name] = (...content) => new WbxmlElement(tag, normalizeContent(tag, content));
    }
    result[page.namespace] = Object.freeze(perTag);
  }
  return Object.freeze(result) as unknown as EasBuilders;
}

export const eas: EasBuilders = buildBuilders();
