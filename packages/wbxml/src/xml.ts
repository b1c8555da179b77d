import { type Namespace, namespaceFromXml, type TagInfo, tagByName } from './codepages.js';
import { WbxmlError } from './errors.js';
import { resolveLimits, type WbxmlLimits } from './limits.js';
import { WbxmlElement } from './tree.js';

export interface ToXmlOptions {
  /** Spaces per level; 0 writes everything on one line. Default 2. */
  readonly indent?: number;
  /** Write the `<?xml version="1.0" encoding="utf-8"?>` declaration first. Default false. */
  readonly declaration?: boolean;
}

/** Attribute that marks an element whose text is base64 of OPAQUE bytes. */
export const OPAQUE_ATTRIBUTE = 'opaque';

/**
 * Renders a tree as namespaced XML for logs, debugging and fixtures. The root's namespace is the default
 * namespace; every other namespace used is declared on the root with its lower-case name as the prefix
 * (`xmlns:airsyncbase="AirSyncBase"`). OPAQUE bytes appear as base64 with `opaque="base64"`.
 */
export function toXml(root: WbxmlElement, options: ToXmlOptions = {}): string {
  const { indent, declarations, nameOf, padOf } = xmlLayout(root, options);

  // Appending to one string lets V8 build a rope and copy it once at the end; with many thousands of small
  // pieces that is faster than collecting them in an array for join.
  let out = options.declaration ? `<?xml version="1.0" encoding="utf-8"?>${indent > 0 ? '\n' : ''}` : '';
  const write = (element: WbxmlElement, level: number, attributes: string): void => {
    const name = nameOf(element.tag);
    const content = element.content;
    if (typeof content === 'string') {
      out += `<${name}${attributes}>${escapeText(content)}</${name}>`;
    } else if (content instanceof Uint8Array) {
      out += `<${name}${attributes} ${OPAQUE_ATTRIBUTE}="base64">${toBase64(content)}</${name}>`;
    } else if (content.length === 0) {
      out += `<${name}${attributes}/>`;
    } else {
      out += `<${name}${attributes}>`;
      const childPad = indent > 0 ? padOf(level + 1) : '';
      for (let i = 0; i < content.length; i++) {
        out += childPad;
        write(content[i]!, level + 1, '');
      }
      out += `${indent > 0 ? padOf(level) : ''}</${name}>`;
    }
  };
  write(root, 0, declarations); // the root carries the namespace declarations
  return out;
}

/**
 * What both renderers share: the indentation, the namespace declarations the root carries (its namespace as the
 * default, every other one used with its lower-case name as prefix), each tag's written name (made once per tag)
 * and the line break plus indentation of each level.
 */
function xmlLayout(root: WbxmlElement, options: ToXmlOptions) {
  const indent = options.indent ?? 2;
  const used = new Set<Namespace>();
  collectNamespaces(root, used);
  const rootNamespace = root.namespace;
  used.delete(rootNamespace);
  let declarations = ` xmlns="${rootNamespace}"`;
  for (const namespace of used) declarations += ` xmlns:${namespace.toLowerCase()}="${namespace}"`;
  const names = new Map<TagInfo, string>();
  const nameOf = (tag: TagInfo): string => {
    let name = names.get(tag);
    if (name === undefined) {
      name = tag.namespace === rootNamespace ? tag.name : `${tag.namespace.toLowerCase()}:${tag.name}`;
      names.set(tag, name);
    }
    return name;
  };
  const pads: string[] = ['\n'];
  const padOf = (level: number): string => {
    while (pads.length <= level) pads.push(`\n${' '.repeat(indent * pads.length)}`);
    return pads[level]!;
  };
  return { indent, declarations, nameOf, padOf };
}

function collectNamespaces(element: WbxmlElement, into: Set<Namespace>): void {
  into.add(element.namespace);
  const content = element.content;
  if (Array.isArray(content)) for (const child of content) collectNamespaces(child, into);
}

/** True for the characters `escapeText` writes as references. */
function needsEscape(code: number): boolean {
  if (code < 0x20) return code !== 0x09 && code !== 0x0a;
  return code === 0x26 || code === 0x3c || code === 0x3e || code === 0xfffe || code === 0xffff;
}

function escapeText(text: string): string {
  // Escape markup, keep CR and other control characters visible as character references so any XML
  // reader gets the exact string back. Most strings need nothing: scan first, copy only when needed.
  const length = text.length;
  let i = 0;
  while (i < length && !needsEscape(text.charCodeAt(i))) i++;
  if (i === length) return text;
  let out = '';
  let from = 0;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    if (!needsEscape(code)) continue;
    if (i > from) out += text.slice(from, i);
    out +=
      code === 0x26
        ? '&amp;'
        : code === 0x3c
          ? '&lt;'
          : code === 0x3e
            ? '&gt;'
            : `&#x${code.toString(16).toUpperCase()};`;
    from = i + 1;
  }
  return from < length ? out + text.slice(from) : out;
}

/**
 * The text `toXml` writes, as UTF-8 bytes, written straight into one growing buffer: no string is built, so
 * a large document costs one pass and little garbage. This is what the command line writes. Equal to
 * `Buffer.from(toXml(root, options))` (a lone surrogate in a string becomes U+FFFD, as in any UTF-8 output).
 */
export function toXmlBytes(
  root: WbxmlElement,
  options: ToXmlOptions & { readonly initialCapacity?: number } = {},
): Uint8Array {
  const { indent, declarations, nameOf, padOf } = xmlLayout(root, options);

  const out = new ByteWriter(options.initialCapacity ?? 64 * 1024);
  if (options.declaration) out.ascii(`<?xml version="1.0" encoding="utf-8"?>${indent > 0 ? '\n' : ''}`);
  const write = (element: WbxmlElement, level: number, attributes: string): void => {
    const name = nameOf(element.tag);
    const content = element.content;
    out.byte(0x3c); // <
    out.ascii(name);
    if (attributes !== '') out.ascii(attributes);
    if (typeof content === 'string') {
      out.byte(0x3e); // >
      out.text(content);
      out.closeTag(name);
    } else if (content instanceof Uint8Array) {
      out.ascii(` ${OPAQUE_ATTRIBUTE}="base64">`);
      out.ascii(toBase64(content));
      out.closeTag(name);
    } else if (content.length === 0) {
      out.ascii('/>');
    } else {
      out.byte(0x3e);
      const childPad = indent > 0 ? padOf(level + 1) : '';
      for (let i = 0; i < content.length; i++) {
        if (indent > 0) out.ascii(childPad);
        write(content[i]!, level + 1, '');
      }
      if (indent > 0) out.ascii(padOf(level));
      out.closeTag(name);
    }
  };
  write(root, 0, declarations);
  return out.result();
}

/** A growing UTF-8 output buffer for `toXmlBytes`. */
class ByteWriter {
  private buffer: Uint8Array;
  private pos = 0;

  constructor(initialCapacity: number) {
    this.buffer = new Uint8Array(Math.max(1024, initialCapacity));
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buffer.subarray(0, this.pos));
    this.buffer = bigger;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.pos++] = value;
  }

  /** Writes a string known to be ASCII (names, markup, indentation, base64). */
  ascii(text: string): void {
    const length = text.length;
    this.reserve(length);
    const buffer = this.buffer;
    let pos = this.pos;
    for (let i = 0; i < length; i++) buffer[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  closeTag(name: string): void {
    this.byte(0x3c);
    this.byte(0x2f);
    this.ascii(name);
    this.byte(0x3e);
  }

  /** Writes text content as UTF-8, escaped the way `escapeText` does. */
  text(text: string): void {
    const length = text.length;
    // A reference (&#xFFFF;) is the longest output of one UTF-16 unit: 8 bytes.
    this.reserve(length * 8);
    const buffer = this.buffer;
    let pos = this.pos;
    for (let i = 0; i < length; i++) {
      let code = text.charCodeAt(i);
      if (code < 0x80) {
        if (needsEscape(code)) pos = writeReference(buffer, pos, code);
        else buffer[pos++] = code;
      } else if (code < 0x800) {
        buffer[pos++] = 0xc0 | (code >> 6);
        buffer[pos++] = 0x80 | (code & 0x3f);
      } else if (code >= 0xd800 && code <= 0xdfff) {
        const next = text.charCodeAt(i + 1);
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buffer[pos++] = 0xf0 | (code >> 18);
          buffer[pos++] = 0x80 | ((code >> 12) & 0x3f);
          buffer[pos++] = 0x80 | ((code >> 6) & 0x3f);
          buffer[pos++] = 0x80 | (code & 0x3f);
        } else {
          // A lone surrogate has no UTF-8 form: U+FFFD, as TextEncoder writes it.
          buffer[pos++] = 0xef;
          buffer[pos++] = 0xbf;
          buffer[pos++] = 0xbd;
        }
      } else if (code >= 0xfffe) {
        pos = writeReference(buffer, pos, code);
      } else {
        buffer[pos++] = 0xe0 | (code >> 12);
        buffer[pos++] = 0x80 | ((code >> 6) & 0x3f);
        buffer[pos++] = 0x80 | (code & 0x3f);
      }
    }
    this.pos = pos;
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.pos);
  }
}

const HEX_DIGITS = '0123456789ABCDEF';

/** Writes `&amp;`, `&lt;`, `&gt;` or `&#xHH;` for one character; returns the new position. */
function writeReference(buffer: Uint8Array, start: number, code: number): number {
  const text =
    code === 0x26 ? '&amp;' : code === 0x3c ? '&lt;' : code === 0x3e ? '&gt;' : `&#x${hexOf(code)};`;
  let pos = start;
  for (let i = 0; i < text.length; i++) buffer[pos++] = text.charCodeAt(i);
  return pos;
}

function hexOf(code: number): string {
  let digits = '';
  do {
    digits = HEX_DIGITS[code & 0xf] + digits;
    code >>>= 4;
  } while (code > 0);
  return digits;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export type FromXmlOptions = Partial<WbxmlLimits>;

/**
 * Parses XML text (as `toXml` writes it, as libwbxml's `wbxml2xml` writes it, or hand-written) into a tree.
 * A document with libwbxml's ActiveSync DOCTYPE is read in libwbxml's dialect: the elements libwbxml treats as
 * opaque (ComposeMail:Mime, Email2:ConversationId, ...) hold base64 of their bytes without an `opaque` marker.
 * Namespaces are resolved by name (`AirSync`, any case, with or without libwbxml's trailing colon); tag names
 * may use the spellings libwbxml and Microsoft's test suite use. Whitespace between child elements is
 * ignored; the text of a leaf element is kept exactly. Throws `WbxmlError` (`invalid-xml`, `unknown-tag`,
 * `limit-*`) with the character offset of the problem.
 */
export function fromXml(xml: string, options?: FromXmlOptions): WbxmlElement {
  return new XmlParser(xml, resolveLimits(options)).parseDocument();
}

interface OpenElement {
  readonly element: WbxmlElement;
  readonly qname: string;
  readonly namespaces: Map<string, string>;
  readonly opaque: boolean;
  text: string;
  /** True once CDATA or non-blank text was seen: then the text is content, never layout. */
  significantText: boolean;
  hasChildren: boolean;
  textOffset: number;
}

const NO_ATTRIBUTES: readonly [string, string][] = [];

/** The public id of the DOCTYPE libwbxml's `wbxml2xml` writes (and `xml2wbxml` reads) for ActiveSync. */
const LIBWBXML_ACTIVESYNC_DTD = '-//MICROSOFT//DTD ActiveSync//EN';

/**
 * The elements libwbxml (0.11) keeps as OPAQUE. In its XML their content is base64 text with no marker, so a
 * document that carries libwbxml's ActiveSync DOCTYPE has these decoded from base64 into bytes.
 */
const LIBWBXML_OPAQUE = new Set([
  'ComposeMail:Mime',
  'Email2:ConversationId',
  'Email2:ConversationIndex',
  'Search:ConversationId',
  'ItemOperations:ConversationId',
  'ResolveRecipients:Data',
  'Gal:Data',
  'AirSyncBase:Content',
]);

/** `[A-Za-z_:]`: the characters an element or attribute name may start with here. */
function isNameStart(code: number): boolean {
  const lower = code | 0x20;
  return (lower >= 0x61 && lower <= 0x7a) || code === 0x5f || code === 0x3a;
}

/** `[A-Za-z0-9_:.-]`: the characters a name may continue with. */
function isNameChar(code: number): boolean {
  return isNameStart(code) || (code >= 0x30 && code <= 0x39) || code === 0x2e || code === 0x2d;
}

class XmlParser {
  private pos = 0;
  private nodes = 0;
  // Tags already resolved in this document, by namespace URI and then by the name as written (prefix
  // included): the answer depends on nothing else, and most names repeat many times.
  private readonly tagCache = new Map<string, Map<string, TagInfo>>();
  /** Set when the prolog has libwbxml's ActiveSync DOCTYPE: then its opaque elements carry bare base64. */
  private libwbxmlDialect = false;

  constructor(
    private readonly xml: string,
    private readonly limits: WbxmlLimits,
  ) {
    if (xml.length > limits.maxInputBytes) {
      throw new WbxmlError(
        'limit-input',
        0,
        `XML of ${xml.length} characters exceeds the limit of ${limits.maxInputBytes}`,
      );
    }
  }

  parseDocument(): WbxmlElement {
    const xml = this.xml;
    if (xml.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.skipMisc(true);
    if (xml[this.pos] !== '<') this.fail('expected the root element');
    const root = this.parseElementTree();
    this.skipMisc(false);
    if (this.pos < xml.length) this.fail('content after the root element');
    return root;
  }

  private fail(reason: string, offset = this.pos): never {
    throw new WbxmlError('invalid-xml', offset, reason);
  }

  /** Skips whitespace, comments, processing instructions and (in the prolog) a DOCTYPE. */
  private skipMisc(prolog: boolean): void {
    const xml = this.xml;
    for (;;) {
      while (this.pos < xml.length && isSpace(xml.charCodeAt(this.pos))) this.pos++;
      if (xml.startsWith('<?', this.pos)) {
        const end = xml.indexOf('?>', this.pos + 2);
        if (end < 0) this.fail('unterminated processing instruction');
        this.pos = end + 2;
      } else if (xml.startsWith('<!--', this.pos)) {
        const end = xml.indexOf('-->', this.pos + 4);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 3;
      } else if (prolog && xml.startsWith('<!DOCTYPE', this.pos)) {
        this.skipDoctype();
      } else {
        return;
      }
    }
  }

  private skipDoctype(): void {
    const xml = this.xml;
    let i = this.pos + 9;
    let quote = '';
    let bracket = 0;
    for (; i < xml.length; i++) {
      const ch = xml[i]!;
      if (quote) {
        if (ch === quote) quote = '';
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '[') bracket++;
      else if (ch === ']') bracket--;
      else if (ch === '>' && bracket <= 0) {
        if (xml.slice(this.pos, i).includes(LIBWBXML_ACTIVESYNC_DTD)) this.libwbxmlDialect = true;
        this.pos = i + 1;
        return;
      }
    }
    this.fail('unterminated DOCTYPE');
  }

  private readName(): string {
    const xml = this.xml;
    const start = this.pos;
    if (start >= xml.length || !isNameStart(xml.charCodeAt(start))) this.fail('expected a name');
    let i = start + 1;
    while (i < xml.length && isNameChar(xml.charCodeAt(i))) i++;
    this.pos = i;
    return xml.slice(start, i);
  }

  private parseElementTree(): WbxmlElement {
    const xml = this.xml;
    const stack: OpenElement[] = [];
    let root: WbxmlElement | undefined;

    while (root === undefined) {
      if (this.pos >= xml.length) this.fail('input ends inside an element');
      const ch = xml[this.pos];
      if (ch === '<') {
        const next = xml[this.pos + 1];
        if (next === '/') {
          const closeOffset = this.pos;
          this.pos += 2;
          const top = stack[stack.length - 1];
          // Compare the end tag with the open element's name in place; read it only to report a mismatch.
          const end = this.pos + (top?.qname.length ?? 0);
          if (top && xml.startsWith(top.qname, this.pos) && !isNameChar(xml.charCodeAt(end))) {
            this.pos = end;
          } else {
            const name = this.readName();
            this.fail(`end tag </${name}> does not match`, closeOffset);
          }
          this.skipSpaces();
          if (xml[this.pos] !== '>') this.fail('expected ">" to close the end tag');
          this.pos++;
          const open = stack.pop()!;
          this.finish(open);
          if (stack.length === 0) root = open.element;
          else this.attach(stack[stack.length - 1]!, open.element, closeOffset);
        } else if (xml.startsWith('<!--', this.pos)) {
          const end = xml.indexOf('-->', this.pos + 4);
          if (end < 0) this.fail('unterminated comment');
          this.pos = end + 3;
        } else if (xml.startsWith('<![CDATA[', this.pos)) {
          const end = xml.indexOf(']]>', this.pos + 9);
          if (end < 0) this.fail('unterminated CDATA section');
          const top = stack[stack.length - 1];
          if (!top) this.fail('CDATA outside any element');
          this.addText(top, xml.slice(this.pos + 9, end), true);
          this.pos = end + 3;
        } else if (next === '?') {
          const end = xml.indexOf('?>', this.pos + 2);
          if (end < 0) this.fail('unterminated processing instruction');
          this.pos = end + 2;
        } else {
          const open = this.parseStartTag(stack[stack.length - 1]);
          if (open.selfClosing) {
            if (stack.length === 0) root = open.entry.element;
            else this.attach(stack[stack.length - 1]!, open.entry.element, open.offset);
          } else {
            if (stack.length >= this.limits.maxDepth)
              this.fail(`nesting deeper than ${this.limits.maxDepth}`);
            stack.push(open.entry);
          }
        }
      } else {
        const top = stack[stack.length - 1];
        if (!top) this.fail('text outside any element');
        let end = xml.indexOf('<', this.pos);
        if (end < 0) end = xml.length;
        if (top.hasChildren) {
          // Layout between child elements: skip it without copying it out (anything else is an error below).
          let i = this.pos;
          while (i < end && isSpace(xml.charCodeAt(i))) i++;
          if (i === end) {
            this.pos = end;
            continue;
          }
        }
        const raw = xml.slice(this.pos, end);
        if (top.text === '' && !top.hasChildren) top.textOffset = this.pos;
        this.addText(top, decodeEntities(raw, this.pos), false);
        this.pos = end;
      }
    }
    return root;
  }

  private skipSpaces(): void {
    while (this.pos < this.xml.length && isSpace(this.xml.charCodeAt(this.pos))) this.pos++;
  }

  private parseStartTag(parent: OpenElement | undefined): {
    entry: OpenElement;
    selfClosing: boolean;
    offset: number;
  } {
    const xml = this.xml;
    const offset = this.pos;
    this.pos++;
    const qname = this.readName();
    // Most start tags have no attributes: the list is made only when one appears.
    let attributes: [string, string][] | undefined;
    for (;;) {
      this.skipSpaces();
      const ch = xml[this.pos];
      if (ch === '>' || ch === '/') break;
      if (ch === undefined) this.fail('input ends inside a start tag');
      const attrName = this.readName();
      this.skipSpaces();
      if (xml[this.pos] !== '=') this.fail(`attribute ${attrName} has no value`);
      this.pos++;
      this.skipSpaces();
      const quote = xml[this.pos];
      if (quote !== '"' && quote !== "'") this.fail(`attribute ${attrName} value is not quoted`);
      const end = xml.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail('unterminated attribute value');
      if (attributes === undefined) attributes = [];
      attributes.push([attrName, decodeEntities(xml.slice(this.pos + 1, end), this.pos + 1)]);
      this.pos = end + 1;
    }
    let selfClosing = false;
    if (xml[this.pos] === '/') {
      if (xml[this.pos + 1] !== '>') this.fail('expected "/>"');
      selfClosing = true;
      this.pos += 2;
    } else {
      this.pos++;
    }

    let namespaces = parent?.namespaces ?? new Map<string, string>();
    let opaque = false;
    for (const [name, value] of attributes ?? NO_ATTRIBUTES) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) {
        if (namespaces === parent?.namespaces) namespaces = new Map(namespaces);
        namespaces.set(name === 'xmlns' ? '' : name.slice(6), value);
      } else if (name === OPAQUE_ATTRIBUTE) {
        if (value !== 'base64') this.fail(`unsupported ${OPAQUE_ATTRIBUTE} encoding ${value}`, offset);
        opaque = true;
      } else {
        this.fail(`attribute ${name} is not used in EAS documents`, offset);
      }
    }
    const colon = qname.indexOf(':');
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    const uri = namespaces.get(prefix);
    if (uri === undefined) {
      this.fail(
        prefix ? `namespace prefix ${prefix} is not declared` : `element ${qname} has no namespace`,
        offset,
      );
    }
    let known = this.tagCache.get(uri);
    if (known === undefined) {
      known = new Map();
      this.tagCache.set(uri, known);
    }
    let tag = known.get(qname);
    if (tag === undefined) {
      const namespace = namespaceFromXml(uri);
      if (!namespace) throw new WbxmlError('unknown-tag', offset, `unknown namespace ${uri}`);
      const local = colon < 0 ? qname : qname.slice(colon + 1);
      tag = tagByName(namespace, local);
      if (!tag) throw new WbxmlError('unknown-tag', offset, `unknown tag ${namespace}:${local}`);
      known.set(qname, tag);
    }
    if (!opaque && this.libwbxmlDialect && LIBWBXML_OPAQUE.has(`${tag.namespace}:${tag.name}`)) opaque = true;
    if (++this.nodes > this.limits.maxNodes) {
      throw new WbxmlError('limit-nodes', offset, `more than ${this.limits.maxNodes} elements`);
    }
    const entry: OpenElement = {
      element: new WbxmlElement(tag, []),
      qname,
      namespaces,
      opaque,
      text: '',
      significantText: false,
      hasChildren: false,
      textOffset: this.pos,
    };
    if (selfClosing && opaque) entry.element.content = new Uint8Array(0);
    return { entry, selfClosing, offset };
  }

  private addText(open: OpenElement, text: string, cdata: boolean): void {
    if (open.hasChildren) {
      if (!cdata && isBlank(text)) return;
      this.fail(`${open.qname} mixes text with elements`);
    }
    open.text += text;
    if (open.text.length > this.limits.maxStringBytes) {
      throw new WbxmlError('limit-string', open.textOffset, `text longer than ${this.limits.maxStringBytes}`);
    }
    if (cdata || !isBlank(text)) open.significantText = true;
  }

  private attach(parent: OpenElement, child: WbxmlElement, offset: number): void {
    if (parent.text !== '') {
      if (parent.significantText) this.fail(`${parent.qname} mixes text with elements`, offset);
      parent.text = '';
    }
    if (parent.opaque) this.fail(`${parent.qname} is opaque and cannot have child elements`, offset);
    parent.hasChildren = true;
    (parent.element.content as WbxmlElement[]).push(child);
  }

  private finish(open: OpenElement): void {
    if (open.hasChildren) return;
    if (open.opaque) {
      const clean = open.text.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) this.fail(`${open.qname} is not valid base64`);
      const bytes = Buffer.from(clean, 'base64');
      if (bytes.length > this.limits.maxOpaqueBytes) {
        throw new WbxmlError(
          'limit-opaque',
          this.pos,
          `opaque data longer than ${this.limits.maxOpaqueBytes}`,
        );
      }
      open.element.content = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return;
    }
    // `<A></A>` is an empty string, `<A/>` has no content: both survive a round trip as they were.
    open.element.content = open.text;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(raw: string, offset: number): string {
  if (raw.indexOf('&') < 0) return raw;
  return raw.replace(/&([^;&\s]{0,10});?/g, (match, body: string, at: number) => {
    if (!match.endsWith(';'))
      throw new WbxmlError('invalid-xml', offset + at, 'unterminated entity reference');
    const named = NAMED_ENTITIES[body];
    if (named !== undefined) return named;
    const numeric = /^#(x[0-9A-Fa-f]{1,6}|[0-9]{1,7})$/.exec(body);
    if (numeric) {
      const code = numeric[1]!.startsWith('x')
        ? Number.parseInt(numeric[1]!.slice(1), 16)
        : Number(numeric[1]);
      if (code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)) return String.fromCodePoint(code);
    }
    throw new WbxmlError('invalid-xml', offset + at, `unknown entity &${body};`);
  });
}
