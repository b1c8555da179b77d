import PostalMime, { type Email as ParsedMime } from 'postal-mime';
import type { AttachmentInfo, AttachmentMethod } from './models/email.js';

/**
 * Everything the store reads out of raw MIME, through postal-mime: bodies and attachments.
 * postal-mime is small, dependency-free, typed, and tolerant of the malformed mail real servers receive.
 */
export function parseMime(mime: Uint8Array): Promise<ParsedMime> {
  // Embedded messages without a Content-Disposition are still attachments (EAS Method 5), not inline text.
  return PostalMime.parse(mime, { rfc822Attachments: true, attachmentEncoding: 'arraybuffer' });
}

export type { ParsedMime };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/** Cuts `bytes` to at most `max` bytes without splitting a UTF-8 sequence. */
export function truncateUtf8Bytes(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  // Back off over continuation bytes (10xxxxxx) so the cut falls before the lead byte of a sequence.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export function truncateUtf8(text: string, max: number): { data: string; size: number; truncated: boolean } {
  const bytes = encoder.encode(text);
  if (bytes.byteLength <= max) return { data: text, size: bytes.byteLength, truncated: false };
  return { data: decoder.decode(truncateUtf8Bytes(bytes, max)), size: bytes.byteLength, truncated: true };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A readable plain-text rendering of HTML: block ends become line breaks, tags go, entities are decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6]|blockquote|table)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Plain text as a minimal HTML document, escaped, with line breaks kept. */
export function textToHtml(text: string): string {
  const escaped = text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\n/g, '<br>\n');
  return `<html><body>${escaped}</body></html>`;
}

/** The plain-text form of a parsed message. */
export function plainBody(parsed: ParsedMime): string {
  return parsed.text ?? (parsed.html !== undefined ? htmlToText(parsed.html) : '');
}

/** The HTML form of a parsed message. */
export function htmlBody(parsed: ParsedMime): string {
  return parsed.html ?? textToHtml(parsed.text ?? '');
}

export function attachmentBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === 'string') return encoder.encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

/** Attachment metadata of a parsed message; `fileReference(i)` names the i-th attachment. */
export function attachmentInfos(
  parsed: ParsedMime,
  fileReference: (index: number) => string,
): AttachmentInfo[] {
  return parsed.attachments.map((a, index) => {
    const method: AttachmentMethod = a.mimeType === 'message/rfc822' ? 5 : 1;
    const info: AttachmentInfo = {
      fileReference: fileReference(index),
      displayName: a.filename ?? (method === 5 ? `message-${index + 1}.eml` : `attachment-${index + 1}`),
      method,
      estimatedDataSize: attachmentBytes(a.content).byteLength,
      contentType: a.mimeType,
    };
    if (a.contentId) info.contentId = a.contentId.replace(/^<|>$/g, '');
    if (a.related || a.disposition === 'inline') info.isInline = true;
    return info;
  });
}
