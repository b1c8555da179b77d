import { PAGE_COUNT, tagByToken } from './codepages.js';
import { WbxmlError } from './errors.js';
import { resolveLimits, type WbxmlLimits } from './limits.js';
import {
  CHARSET_UTF8,
  END,
  FIRST_TAG_TOKEN,
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

// Node's Buffer has the native calls under `toString` as methods of their own (latin1Slice, utf8Slice,
// ucs2Slice); calling them directly skips toString's argument handling, which costs more than the copy for
// the short strings that make up most of an EAS document. Where they are missing (browsers, workers, other
// runtimes), TextDecoder does the work.
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
  subarray(start: number, end: number): Uint8Array;
  copy(target: NativeSlices, targetStart: number, sourceStart: number, sourceEnd: number): number;
  /** Buffer's indexOf of a byte value is a memchr. */
  indexOf(value: number, byteOffset: number): number;
}
const NodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const hasNativeSlices =
  NodeBuffer !== undefined &&
  typeof (NodeBuffer.prototype as unknown as Partial<NativeSlices>).latin1Slice === 'function' &&
  typeof (NodeBuffer.prototype as unknown as Partial<NativeSlices>).utf8Slice === 'function' &&
  typeof (NodeBuffer.prototype as unknown as Partial<NativeSlices>).ucs2Slice === 'function';

// Long strings (mail bodies above all; LONG_TEXT_BYTES or more) take another route where Node offers it.
// V8's UTF-8 decoder reads every byte twice through a state machine once the text holds one non-ASCII
// character, which made it a third of the decoder's time on a Sync response; `buffer.transcode` (simdutf on
// current Node 20) does the same work in about half the instructions. It refuses invalid UTF-8 instead of
// replacing it, so it only ever sees text that `isUtf8` has passed (valid UTF-8 has exactly one UTF-16 form);
// anything else goes to V8 and is replaced as before. Pure ASCII, which `isAscii` spots, is copied as
// Latin-1. The decoder also gathers a document's long strings and converts them in one call when the
// document ends (decodeDeferred).
interface NodeBufferModule {
  isAscii(input: Uint8Array): boolean;
  isUtf8(input: Uint8Array): boolean;
  transcode(source: Uint8Array, from: 'utf8', to: 'ucs2'): NativeSlices & { length: number };
}
const LONG_TEXT_BYTES = 256;
const nodeBufferModule = loadNodeBufferModule();

function loadNodeBufferModule(): NodeBufferModule | undefined {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  // process.getBuiltinModule: Node 20.16 and later; no import, so the package still loads in browsers.
  if (typeof nodeProcess?.getBuiltinModule !== 'function') return undefined;
  const module = nodeProcess.getBuiltinModule('node:buffer') as Partial<NodeBufferModule> | undefined;
  if (
    typeof module?.isAscii !== 'function' ||
    typeof module.isUtf8 !== 'function' ||
    typeof module.transcode !== 'function'
  ) {
    return undefined; // older Node, or Node built without ICU (no transcode)
  }
  return module as NodeBufferModule;
}

/** The string of a long run of bytes, through Node's native helpers (see LONG_TEXT_BYTES). */
function longText(view: NativeSlices, start: number, end: number): string {
  if (nodeBufferModule !== undefined && end - start >= LONG_TEXT_BYTES) {
    const part = view.subarray(start, end);
    if (nodeBufferModule.isAscii(part)) return view.latin1Slice(start, end);
    if (nodeBufferModule.isUtf8(part)) {
      const utf16 = nodeBufferModule.transcode(part, 'utf8', 'ucs2');
      return utf16.ucs2Slice(0, utf16.length);
    }
  }
  return view.utf8Slice(start, end);
}

function nativeView(bytes: Uint8Array): NativeSlices | undefined {
  if (!hasNativeSlices) return undefined;
  return NodeBuffer!.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as NativeSlices;
}

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

// Strings repeat a lot in EAS (Status 1, Class Email, MessageClass IPM.Note, flags, types, the same sender
// and recipients on many mails): a direct-mapped cache keyed by the bytes hands back the string made last
// time for the same bytes, so a repeated value costs a hash and a compare and allocates nothing.
const CACHE_MAX_BYTES = 64;
const CACHE_SLOTS = 4096;
const cacheText: string[] = new Array<string>(CACHE_SLOTS).fill('');
const cacheSize = new Int32Array(CACHE_SLOTS).fill(-1);
const cacheKey = new Uint8Array(CACHE_SLOTS * CACHE_MAX_BYTES);
// Strings up to this size are looked for byte by byte here; past it, Buffer's memchr finds the NUL faster
// than a loop in JavaScript.
const SCAN_BYTES = 32;

// Short OPAQUE values (EAS sends many: ConversationId and ConversationIndex on every mail) are copied side by
// side into shared slabs and handed out as views of their own range: a Uint8Array of its own costs a typed
// array, an ArrayBuffer and a backing store, three objects for the collector instead of one. Values are copied
// out of the input either way, so a tree never aliases the bytes it was decoded from.
const SLAB_BYTES = 8192;
const SLAB_MAX_VALUE = 256;

// Set by readText to the offset of the NUL that ends the string it read.
let textEnd = 0;

/**
 * The string that starts at `start` and ends at the first NUL before `limit`, or undefined when there is no
 * NUL before `limit`; sets `textEnd` to the NUL's offset. Throws `limit-string` when the string is longer than
 * `maxBytes`. `view` is a Buffer over `bytes` when Node's native slices exist. With `defer`, a long string
 * (LONG_TEXT_BYTES or more, Node only) is not decoded: DEFER comes back and the caller decodes it later.
 */
function readText(
  bytes: Uint8Array,
  view: NativeSlices | undefined,
  start: number,
  limit: number,
  maxBytes: number,
  defer: boolean,
): string | undefined {
  // Look for the NUL in the first SCAN_BYTES bytes, hashing (FNV-1a) and noting non-ASCII bytes on the way.
  const scanLimit = Math.min(limit, start + SCAN_BYTES + 1);
  let hash = 0x811c9dc5;
  let high = 0;
  let end = start;
  for (; end < scanLimit; end++) {
    const byte = bytes[end]!;
    if (byte === 0) break;
    high |= byte;
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  if (end >= limit) return undefined;
  if (end === scanLimit) {
    // Longer: find the NUL natively where we can.
    if (view !== undefined) {
      end = view.indexOf(0, end);
      if (end < 0 || end >= limit) return undefined;
    } else {
      while (end < limit && bytes[end] !== 0) end++;
      if (end >= limit) return undefined;
    }
    high = 0x80;
  }
  textEnd = end;
  const size = end - start;
  if (size > maxBytes) {
    throw new WbxmlError('limit-string', start, `string of ${size} bytes exceeds the limit of ${maxBytes}`);
  }
  if (size === 0) return '';
  if (size > CACHE_MAX_BYTES) {
    if (view === undefined) return utf8.decode(bytes.subarray(start, end));
    return defer && size >= LONG_TEXT_BYTES ? DEFER : longText(view, start, end);
  }
  for (let k = start + SCAN_BYTES + 1; k < end; k++) hash = Math.imul(hash ^ bytes[k]!, 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (CACHE_SLOTS - 1);
  const base = slot * CACHE_MAX_BYTES;
  if (cacheSize[slot] === size) {
    let k = 0;
    while (k < size && cacheKey[base + k] === bytes[start + k]) k++;
    if (k === size) return cacheText[slot]!;
  }
  let text: string;
  if (view !== undefined) text = high < 0x80 ? view.latin1Slice(start, end) : view.utf8Slice(start, end);
  else text = utf8.decode(bytes.subarray(start, end));
  cacheText[slot] = text;
  cacheSize[slot] = size;
  for (let k = 0; k < size; k++) cacheKey[base + k] = bytes[start + k]!;
  return text;
}

// Content markers of open elements, never left in a finished tree. PENDING: a tag with the content bit whose
// content has not been seen yet. HAS_CHILDREN: child elements were seen; they wait on the decoder's child
// stack and become one exactly sized array at END.
const PENDING: WbxmlElement[] = [];
const HAS_CHILDREN: WbxmlElement[] = [];
// DEFERRED: the element's text is a long string that is decoded with the others when the document ends.
const DEFERRED: WbxmlElement[] = [];
/** What readText returns for a deferred string: no decoded string equals it, as none holds a NUL. */
const DEFER = '\0';

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
  const view = nativeView(bytes);
  // The string table's entries, decoded when first referenced (STR_T is rare in EAS: Exchange never sends it).
  let table: Map<number, string> | undefined;
  let tableTextBytes = 0;
  // Elements whose long text waits to be decoded in one go at the end, with the [start, end) of each text.
  let deferred: WbxmlElement[] | undefined;
  const deferredRanges: number[] = [];
  let deferredBytes = 0;
  // Where short OPAQUE values are copied (see SLAB_BYTES).
  let slab: Uint8Array | undefined;
  let slabBuffer: ArrayBuffer | undefined;
  let slabUsed = 0;
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
        const start = pos;
        let text: string | undefined;
        if (byte === STR_I) {
          text = readText(bytes, view, pos, length, maxStringBytes, true);
          if (text === undefined) {
            throw new WbxmlError('truncated', offset, 'inline string has no terminating NUL');
          }
          pos = textEnd + 1;
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
          // Each entry is read once, when first referenced, however often the document refers to it.
          if (table === undefined) table = new Map();
          text = table.get(index);
          if (text === undefined) {
            text = readText(bytes, view, tableStart + index, tableStart + tableLength, maxStringBytes, false);
            if (text === undefined) {
              throw new WbxmlError(
                'bad-string-reference',
                offset,
                'string table entry has no terminating NUL',
              );
            }
            // References into the middle of one long entry would each decode most of it again: a small document
            // could make gigabytes of text. A real table is read about once, so twice its size is the budget.
            tableTextBytes += textEnd - (tableStart + index);
            if (tableTextBytes > 2 * tableLength + 65_536) {
              throw new WbxmlError(
                'limit-string',
                offset,
                'string table references decode far more text than the table holds',
              );
            }
            table.set(index, text);
          }
        }
        if (depth === 0) throw new WbxmlError('text-outside-element', offset, 'string outside any element');
        const parent = stack[depth - 1]!;
        if (parent.content === DEFERRED) {
          // A second string for an element whose first was deferred (rare): that one is the last deferred,
          // as a text element has no children; decode it now and join as usual.
          deferred!.pop();
          const end = deferredRanges.pop()!;
          const first = deferredRanges.pop()!;
          deferredBytes -= end - first + 1;
          parent.content = longText(view!, first, end);
        }
        if (text === DEFER) {
          if (parent.content === PENDING) {
            if (deferred === undefined) deferred = [];
            deferred.push(parent);
            deferredRanges.push(start, textEnd);
            deferredBytes += textEnd - start + 1;
            parent.content = DEFERRED;
            break;
          }
          text = longText(view!, start, textEnd);
        }
        appendText(parent, text, offset);
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
        let value: Uint8Array;
        if (size > SLAB_MAX_VALUE) {
          value = new Uint8Array(size);
          value.set(bytes.subarray(pos, pos + size));
        } else {
          if (slab === undefined || slabUsed + size > SLAB_BYTES) {
            slabBuffer = new ArrayBuffer(SLAB_BYTES);
            slab = new Uint8Array(slabBuffer);
            slabUsed = 0;
          }
          value = new Uint8Array(slabBuffer!, slabUsed, size);
          for (let k = 0; k < size; k++) slab[slabUsed + k] = bytes[pos + k]!;
          slabUsed += size;
        }
        parent.content = value;
        pos += size;
        break;
      }
      default: {
        // Global tokens all have 0-4 in their low six bits; the five EAS uses were handled above.
        if ((byte & TAG_TOKEN_MASK) < FIRST_TAG_TOKEN) {
          const unsupported = UNSUPPORTED_GLOBAL_TOKENS.get(byte);
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
  if (deferred !== undefined && deferred.length > 0) {
    decodeDeferred(view!, deferred, deferredRanges, deferredBytes);
  }
  return { version, publicId, charset, root };
}

/**
 * Decodes the deferred long strings of a document together: their bytes are copied into one buffer with a
 * separator after each, decoded by one call (longText), and each element gets its slice of the result. V8
 * keeps such a slice as a reference into the whole, so the long texts of a document cost one large string,
 * which the young-generation collector never copies, instead of one heap string each, which it copies while
 * the tree is being built. The separator is U+0001 when no text holds that byte, else NUL (which no WBXML
 * string holds): V8 finds U+0001 in a two-byte string with memchr, but looks for NUL character by character.
 * Decoding the joined bytes gives exactly the strings decoding each run would: the separator is ASCII, so it
 * ends an unfinished UTF-8 sequence the way the end of the run does, and no decoded text holds it.
 */
function decodeDeferred(
  view: NativeSlices,
  elements: readonly WbxmlElement[],
  ranges: readonly number[],
  totalBytes: number,
): void {
  const joined = NodeBuffer!.allocUnsafe(totalBytes);
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    at += view.copy(joined as unknown as NativeSlices, at, ranges[i]!, ranges[i + 1]!);
    joined[at++] = 0;
  }
  let separator = '\0';
  if (joined.indexOf(1) < 0) {
    separator = '\u0001';
    at = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      at += ranges[i + 1]! - ranges[i]!;
      joined[at++] = 1;
    }
  }
  const text = longText(joined as unknown as NativeSlices, 0, totalBytes - 1);
  let from = 0;
  const last = elements.length - 1;
  for (let i = 0; i <= last; i++) {
    const end = i === last ? text.length : text.indexOf(separator, from);
    elements[i]!.content = text.slice(from, end);
    from = end + 1;
  }
}

/** Adds a string to the content of an open element: its content, or joined to the strings before it. */
function appendText(parent: WbxmlElement, text: string, offset: number): void {
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
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}
