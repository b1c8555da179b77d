import { PAGE_COUNT, tagByToken } from './codepages.js';
import { WbxmlError } from './errors.js';
import { resolveLimits, type WbxmlLimits } from './limits.js';
import {
  CHARSET_UTF8,
  END,
  OPAQUE,
  STR_I,
  STR_T,
  SWITCH_PAGE,
  TAG_HAS_ATTRIBUTES,
  TAG_HAS_CONTENT,
  TAG_TOKEN_MASK,
  UNSUPPORTED_GLOBAL_TOKENS,
} from './tokens.js';
import { WbxmlElement } from './tree.js';

export type DecodeOptions = Partial<WbxmlLimits>;

/** The header fields of a decoded document, beside its root element. */
export interface WbxmlDocument {
  /** WBXML version byte: 0x03 for 1.3 (1.1 and 1.2 are accepted too; their layout is the same). */
  readonly version: number;
  /** The public identifier; EAS sends 1 ("unknown"). */
  readonly publicId: number;
  /** The charset MIBenum; EAS sends 106 (UTF-8). 0 ("unknown") is read as UTF-8. */
  readonly charset: number;
  readonly root: WbxmlElement;
}

const utf8 = new TextDecoder('utf-8');
// Node's Buffer turns a byte range into a string in one native call, without the view object TextDecoder
// needs; elsewhere (browsers, workers) TextDecoder does the same work. Both replace invalid UTF-8 the same way.
const NodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;

// Short ASCII strings repeat a lot in EAS (Status 1, Class Email, MessageClass IPM.Note, ContentClass, dates
// share nothing, but flags and types do): a small direct-mapped cache hands back the string made last time
// for the same bytes, so a repeated value costs a hash and a compare, and allocates nothing.
const CACHE_MAX_BYTES = 32;
const CACHE_SLOTS = 2048;
const cache: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);

// Set by readMbUint32 to the offset after the integer it read (a module variable, so the decode loop keeps
// its position in a local that no closure captures).
let mbEnd = 0;

function readMbUint32(bytes: Uint8Array, start: number, length: number): number {
  let pos = start;
  let value = 0;
  for (let count = 0; count < 5; count++) {
    if (pos >= length) throw new WbxmlError('truncated', start, 'input ends inside a multi-byte integer');
    const byte = bytes[pos++]!;
    if (count === 4 && value > 0x1ffffff) {
      throw new WbxmlError('mb-int-overflow', start, 'multi-byte integer exceeds 32 bits');
    }
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      mbEnd = pos;
      return value;
    }
  }
  throw new WbxmlError('mb-int-overlong', start, 'multi-byte integer longer than 5 bytes');
}

/** The UTF-8 string in bytes[start, end). `view` is a Buffer over the same bytes when Buffer exists. */
function decodeString(bytes: Uint8Array, view: Buffer | undefined, start: number, end: number): string {
  const size = end - start;
  if (size <= CACHE_MAX_BYTES) {
    if (size === 0) return '';
    let hash = size;
    let i = start;
    for (; i < end; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) break;
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    if (i === end) {
      const slot = (hash ^ (hash >>> 15)) & (CACHE_SLOTS - 1);
      const cached = cache[slot];
      if (cached !== undefined && cached.length === size) {
        let same = true;
        for (let k = 0; k < size; k++) {
          if (cached.charCodeAt(k) !== bytes[start + k]) {
            same = false;
            break;
          }
        }
        if (same) return cached;
      }
      const text =
        view !== undefined ? view.toString('latin1', start, end) : utf8.decode(bytes.subarray(start, end));
      cache[slot] = text;
      return text;
    }
  }
  return view !== undefined ? view.toString('utf8', start, end) : utf8.decode(bytes.subarray(start, end));
}

// Content markers of open elements, never left in a finished tree. PENDING: a tag with the content bit whose
// content has not been seen yet. HAS_CHILDREN: child elements were seen; they wait on the decoder's child
// stack and become one exactly sized array at END.
const PENDING: WbxmlElement[] = [];
const HAS_CHILDREN: WbxmlElement[] = [];

/** Decodes an EAS WBXML document to its root element. Throws `WbxmlError` on any malformed input. */
export function decode(bytes: Uint8Array, options?: DecodeOptions): WbxmlElement {
  return decodeDocument(bytes, options).root;
}

/** Decodes an EAS WBXML document, returning the header fields too. */
export function decodeDocument(bytes: Uint8Array, options?: DecodeOptions): WbxmlDocument {
  const limits = resolveLimits(options);
  const length = bytes.length;
  if (length > limits.maxInputBytes) {
    throw new WbxmlError(
      'limit-input',
      0,
      `input of ${length} bytes exceeds the limit of ${limits.maxInputBytes}`,
    );
  }
  if (length === 0) throw new WbxmlError('truncated', 0, 'empty input');
  let pos = 0;
  const version = bytes[pos++]!;
  if (version < 0x01 || version > 0x03) {
    throw new WbxmlError('unsupported-version', 0, `unsupported WBXML version byte 0x${hex(version)}`);
  }
  let publicId = readMbUint32(bytes, pos, length);
  pos = mbEnd;
  let publicIdIndex = -1;
  if (publicId === 0) {
    publicIdIndex = readMbUint32(bytes, pos, length);
    pos = mbEnd;
  }
  const charsetOffset = pos;
  const charset = readMbUint32(bytes, pos, length);
  pos = mbEnd;
  if (charset !== CHARSET_UTF8 && charset !== 0) {
    throw new WbxmlError('unsupported-charset', charsetOffset, `charset ${charset} is not UTF-8 (106)`);
  }
  const tableOffset = pos;
  const tableLength = readMbUint32(bytes, pos, length);
  pos = mbEnd;
  if (tableLength > length - pos) {
    throw new WbxmlError('truncated', tableOffset, `string table of ${tableLength} bytes overruns the input`);
  }
  const tableStart = pos;
  pos += tableLength;
  if (publicIdIndex >= 0) {
    if (publicIdIndex >= tableLength) {
      throw new WbxmlError(
        'bad-string-reference',
        tableOffset,
        'public identifier index is outside the string table',
      );
    }
    publicId = 0;
  }

  const { maxDepth, maxNodes, maxStringBytes, maxOpaqueBytes } = limits;
  const view = NodeBuffer?.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Open elements, and for each the index in `children` where its child elements start.
  const stack: WbxmlElement[] = [];
  const childStart: number[] = [];
  const children: WbxmlElement[] = [];
  let depth = 0;
  let nodes = 0;
  let page = 0;
  let root: WbxmlElement | undefined;

  while (pos < length) {
    const offset = pos;
    const byte = bytes[pos++]!;
    switch (byte) {
      case SWITCH_PAGE: {
        if (pos >= length) throw new WbxmlError('truncated', offset, 'input ends after SWITCH_PAGE');
        page = bytes[pos++]!;
        if (page >= PAGE_COUNT) throw new WbxmlError('unknown-page', offset + 1, `unknown code page ${page}`);
        break;
      }
      case END: {
        if (depth === 0) throw new WbxmlError('unbalanced-end', offset, 'END with no element open');
        const closed = stack[--depth]!;
        const content = closed.content;
        if (content === PENDING) {
          closed.content = [];
        } else if (content === HAS_CHILDREN) {
          const first = childStart[depth]!;
          closed.content = children.slice(first);
          children.length = first;
        }
        if (depth === 0) {
          if (pos !== length) {
            throw new WbxmlError('trailing-data', pos, `${length - pos} bytes after the root element`);
          }
        }
        break;
      }
      case STR_I:
      case STR_T: {
        let start: number;
        let end: number;
        if (byte === STR_I) {
          start = pos;
          end = bytes.indexOf(0, pos);
          if (end < 0) throw new WbxmlError('truncated', offset, 'inline string has no terminating NUL');
          pos = end + 1;
        } else {
          const index = readMbUint32(bytes, pos, length);
          pos = mbEnd;
          if (index >= tableLength) {
            throw new WbxmlError(
              'bad-string-reference',
              offset,
              `string table index ${index} is out of range`,
            );
          }
          const tableEnd = tableStart + tableLength;
          start = tableStart + index;
          end = start;
          while (end < tableEnd && bytes[end] !== 0) end++;
          if (end >= tableEnd) {
            throw new WbxmlError('bad-string-reference', offset, 'string table entry has no terminating NUL');
          }
        }
        if (end - start > maxStringBytes) {
          throw new WbxmlError(
            'limit-string',
            start,
            `string of ${end - start} bytes exceeds the limit of ${maxStringBytes}`,
          );
        }
        const text = decodeString(bytes, view, start, end);
        if (depth === 0) throw new WbxmlError('text-outside-element', offset, 'string outside any element');
        const parent = stack[depth - 1]!;
        const content = parent.content;
        if (content === PENDING) {
          parent.content = text;
        } else if (typeof content === 'string') {
          parent.content = content + text;
        } else {
          throw new WbxmlError(
            'mixed-content',
            offset,
            `${parent.qualifiedName} mixes text with elements or bytes`,
          );
        }
        break;
      }
      case OPAQUE: {
        const size = readMbUint32(bytes, pos, length);
        pos = mbEnd;
        if (size > maxOpaqueBytes) {
          throw new WbxmlError(
            'limit-opaque',
            offset,
            `opaque data of ${size} bytes exceeds the limit of ${maxOpaqueBytes}`,
          );
        }
        if (size > length - pos)
          throw new WbxmlError('truncated', offset, `opaque data of ${size} bytes overruns the input`);
        if (depth === 0)
          throw new WbxmlError('text-outside-element', offset, 'opaque data outside any element');
        const parent = stack[depth - 1]!;
        if (parent.content !== PENDING) {
          throw new WbxmlError(
            'mixed-content',
            offset,
            `${parent.qualifiedName} mixes bytes with other content`,
          );
        }
        parent.content = bytes.slice(pos, pos + size);
        pos += size;
        break;
      }
      default: {
        const unsupported = UNSUPPORTED_GLOBAL_TOKENS.get(byte);
        if (unsupported !== undefined) {
          throw new WbxmlError(
            'unsupported-token',
            offset,
            `${unsupported} (0x${hex(byte)}) is not used by EAS`,
          );
        }
        if (byte & TAG_HAS_ATTRIBUTES) {
          throw new WbxmlError(
            'attributes',
            offset,
            `tag 0x${hex(byte)} declares attributes, which EAS never uses`,
          );
        }
        const tag = tagByToken(page, byte & TAG_TOKEN_MASK);
        if (tag === undefined) {
          throw new WbxmlError(
            'unknown-tag',
            offset,
            `unknown tag 0x${hex(byte & TAG_TOKEN_MASK)} in code page ${page}`,
          );
        }
        if (root !== undefined && depth === 0) {
          throw new WbxmlError('trailing-data', offset, 'a second root element');
        }
        if (++nodes > maxNodes) throw new WbxmlError('limit-nodes', offset, `more than ${maxNodes} elements`);
        const hasContent = (byte & TAG_HAS_CONTENT) !== 0;
        const node = new WbxmlElement(tag, hasContent ? PENDING : []);
        if (depth === 0) {
          root = node;
        } else {
          const parent = stack[depth - 1]!;
          const content = parent.content;
          if (content === PENDING) {
            parent.content = HAS_CHILDREN;
            childStart[depth - 1] = children.length;
          } else if (content !== HAS_CHILDREN) {
            throw new WbxmlError(
              'mixed-content',
              offset,
              `${parent.qualifiedName} mixes elements with text or bytes`,
            );
          }
          children.push(node);
        }
        if (hasContent) {
          if (depth >= maxDepth)
            throw new WbxmlError('limit-depth', offset, `nesting deeper than ${maxDepth}`);
          stack[depth++] = node;
        } else if (depth === 0 && pos !== length) {
          throw new WbxmlError('trailing-data', pos, `${length - pos} bytes after the root element`);
        }
      }
    }
  }
  if (depth > 0) throw new WbxmlError('truncated', length, `input ends with ${depth} element(s) still open`);
  if (root === undefined) throw new WbxmlError('no-root', length, 'document has no root element');
  return { version, publicId, charset, root };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}
