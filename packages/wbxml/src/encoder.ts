import { WbxmlError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import {
  CHARSET_UTF8,
  END,
  OPAQUE,
  PUBLIC_ID_UNKNOWN,
  STR_I,
  SWITCH_PAGE,
  TAG_HAS_CONTENT,
  WBXML_VERSION_1_3,
} from './tokens.js';
import type { WbxmlElement } from './tree.js';

export interface EncodeOptions {
  /** Deepest nesting accepted; deeper trees are refused rather than overflowing the stack. */
  readonly maxDepth?: number;
  /** Initial output buffer size in bytes; the buffer grows as needed. */
  readonly initialCapacity?: number;
}

const utf8 = new TextEncoder();
// Strings up to this many UTF-16 units are written by hand when ASCII; longer ones go to encodeInto.
const SHORT_STRING = 32;

/**
 * Encodes a tree as a WBXML 1.3 document the way EAS peers do: public id 1, UTF-8, an empty string table,
 * STR_I for strings, OPAQUE for bytes, and a SWITCH_PAGE only when the code page changes.
 */
export function encode(root: WbxmlElement, options: EncodeOptions = {}): Uint8Array {
  const maxDepth = options.maxDepth ?? DEFAULT_LIMITS.maxDepth;
  let out = new Uint8Array(Math.max(options.initialCapacity ?? 4096, 64));
  let pos = 0;
  let page = 0;

  const grow = (needed: number): void => {
    let size = out.length * 2;
    while (size < pos + needed) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(out.subarray(0, pos));
    out = bigger;
  };

  const writeMbUint32 = (value: number): void => {
    if (pos + 5 > out.length) grow(5);
    if (value < 0x80) {
      out[pos++] = value;
      return;
    }
    let shift = 28;
    while (shift > 0 && value >>> shift === 0) shift -= 7;
    for (; shift > 0; shift -= 7) out[pos++] = ((value >>> shift) & 0x7f) | 0x80;
    out[pos++] = value & 0x7f;
  };

  const writeString = (text: string, element: WbxmlElement): void => {
    const units = text.length;
    // Worst case is 3 bytes per UTF-16 unit, plus STR_I and the NUL.
    if (pos + units * 3 + 2 > out.length) grow(units * 3 + 2);
    out[pos++] = STR_I;
    if (units <= SHORT_STRING) {
      let i = 0;
      for (; i < units; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80 || code === 0) break;
        out[pos + i] = code;
      }
      if (i === units) {
        pos += units;
        out[pos++] = 0;
        return;
      }
    }
    if (text.indexOf('\0') >= 0) {
      throw new WbxmlError('nul-in-string', -1, `${element.qualifiedName} contains a NUL character`);
    }
    pos += utf8.encodeInto(text, out.subarray(pos)).written;
    out[pos++] = 0;
  };

  const writeElement = (element: WbxmlElement, depth: number): void => {
    if (depth > maxDepth) throw new WbxmlError('limit-depth', -1, `tree nests deeper than ${maxDepth}`);
    const tag = element.tag;
    if (pos + 3 > out.length) grow(3);
    if (tag.page !== page) {
      out[pos++] = SWITCH_PAGE;
      out[pos++] = tag.page;
      page = tag.page;
    }
    const content = element.content;
    if (typeof content === 'string') {
      out[pos++] = tag.token | TAG_HAS_CONTENT;
      writeString(content, element);
    } else if (content instanceof Uint8Array) {
      out[pos++] = tag.token | TAG_HAS_CONTENT;
      if (pos + 1 > out.length) grow(1);
      out[pos++] = OPAQUE;
      writeMbUint32(content.length);
      if (pos + content.length > out.length) grow(content.length);
      out.set(content, pos);
      pos += content.length;
    } else if (content.length === 0) {
      out[pos++] = tag.token;
      return;
    } else {
      out[pos++] = tag.token | TAG_HAS_CONTENT;
      for (let i = 0; i < content.length; i++) writeElement(content[i]!, depth + 1);
    }
    if (pos + 1 > out.length) grow(1);
    out[pos++] = END;
  };

  out[pos++] = WBXML_VERSION_1_3;
  out[pos++] = PUBLIC_ID_UNKNOWN;
  out[pos++] = CHARSET_UTF8;
  out[pos++] = 0; // empty string table
  writeElement(root, 1);
  return out.subarray(0, pos);
}
