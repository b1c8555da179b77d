/*
 * Finding the iCalendar part of a delivered message. Only this one question is asked of the MIME structure,
 * so a small bounded walker does it: nesting depth, part count and the size of the decoded calendar are all
 * capped, so a hostile message (thousands of nested multiparts, a huge part) costs a bounded amount of work.
 */

/** Limits of the walk; the defaults suit real invitations with a wide margin. */
export interface CalendarPartLimits {
  /** Multipart nesting followed at most (deeper parts are not looked at). Default 8. */
  readonly maxDepth?: number;
  /** Parts looked at in all. Default 200. */
  readonly maxParts?: number;
  /** Largest decoded calendar accepted, in bytes. Default 1 MiB. */
  readonly maxCalendarBytes?: number;
}

/** The calendar found in a message: its text and the `method` parameter of its Content-Type, if any. */
export interface CalendarPart {
  readonly text: string;
  readonly method?: string;
}

interface Part {
  readonly headers: Map<string, string>;
  readonly body: Uint8Array;
}

const CALENDAR_TYPES = new Set(['text/calendar', 'application/ics', 'text/x-vcalendar']);

/**
 * The first `text/calendar` (or `application/ics`) part of a message, decoded to text, or undefined when there
 * is none within the limits. A `text/calendar` part is preferred over an `.ics` attachment, as mail clients
 * send both and the former is the one meant for processing (RFC 6047).
 */
export function findCalendarPart(
  mime: Uint8Array,
  limits: CalendarPartLimits = {},
): CalendarPart | undefined {
  const maxDepth = limits.maxDepth ?? 8;
  const maxParts = limits.maxParts ?? 200;
  const maxBytes = limits.maxCalendarBytes ?? 1024 * 1024;
  let seen = 0;
  let fallback: CalendarPart | undefined;
  const stack: { part: Part; depth: number }[] = [{ part: splitPart(mime), depth: 0 }];
  while (stack.length > 0) {
    const { part, depth } = stack.shift()!;
    if (++seen > maxParts) break;
    const { type, params } = parseContentType(part.headers.get('content-type'));
    if (type.startsWith('multipart/')) {
      const boundary = params.get('boundary');
      if (!boundary || depth >= maxDepth) continue;
      const children = splitMultipart(part.body, boundary, maxParts - seen + 1);
      stack.push(...children.map((child) => ({ part: child, depth: depth + 1 })));
      continue;
    }
    if (!CALENDAR_TYPES.has(type)) continue;
    const bytes = decodeTransfer(part.body, part.headers.get('content-transfer-encoding'));
    if (bytes.byteLength > maxBytes) continue;
    const text = decodeCharset(bytes, params.get('charset'));
    if (!/BEGIN:VCALENDAR/i.test(text)) continue;
    const method = params.get('method')?.toUpperCase();
    const found: CalendarPart = method ? { text, method } : { text };
    if (type === 'text/calendar') return found;
    fallback ??= found;
  }
  return fallback;
}

/** Splits a part at its first empty line; the header block is read as latin1 and unfolded. */
function splitPart(bytes: Uint8Array): Part {
  let bodyStart = bytes.length;
  let headerEnd = bytes.length;
  for (let index = 0; index < bytes.length; index++) {
    if (bytes[index] !== 0x0a) continue;
    if (bytes[index + 1] === 0x0a) {
      headerEnd = index;
      bodyStart = index + 2;
      break;
    }
    if (bytes[index + 1] === 0x0d && bytes[index + 2] === 0x0a) {
      headerEnd = index;
      bodyStart = index + 3;
      break;
    }
  }
  // A part that starts with an empty line has no headers at all.
  if (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a)) {
    headerEnd = 0;
    bodyStart = bytes[0] === 0x0a ? 1 : 2;
  }
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(headerEnd, 256 * 1024)).toString(
    'latin1',
  );
  const headers = new Map<string, string>();
  let current: string | undefined;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && current) {
      headers.set(current, `${headers.get(current)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    current = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(current)) headers.set(current, line.slice(colon + 1).trim());
    else current = undefined;
  }
  return { headers, body: bytes.subarray(Math.min(bodyStart, bytes.length)) };
}

/** The media type (lower case) and its parameters (names lower case, quotes removed). */
export function parseContentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (!value) return { type: 'text/plain', params };
  const [head, ...rest] = splitParameters(value);
  for (const entry of rest) {
    const equals = entry.indexOf('=');
    if (equals <= 0) continue;
    const name = entry.slice(0, equals).trim().toLowerCase();
    let parameter = entry.slice(equals + 1).trim();
    if (parameter.startsWith('"') && parameter.endsWith('"') && parameter.length >= 2) {
      parameter = parameter.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    if (!params.has(name)) params.set(name, parameter);
  }
  return { type: (head ?? '').trim().toLowerCase() || 'text/plain', params };
}

/** Splits at semicolons outside quoted strings. */
function splitParameters(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < value.length; index++) {
    const char = value[index]!;
    if (char === '\\' && quoted) {
      current += char + (value[index + 1] ?? '');
      index++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === ';' && !quoted) {
      out.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  out.push(current);
  return out;
}

/** The body parts between `--boundary` lines, at most `max` of them. */
function splitMultipart(body: Uint8Array, boundary: string, max: number): Part[] {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  const delimiter = `--${boundary}`;
  const parts: Part[] = [];
  let start = -1;
  let position = 0;
  while (parts.length < max) {
    const found = text.indexOf(delimiter, position);
    if (found < 0) break;
    const lineStart = found === 0 || text[found - 1] === '\n';
    position = found + delimiter.length;
    if (!lineStart) continue;
    if (start >= 0) {
      // The line break before the delimiter belongs to the delimiter (RFC 2046 5.1.1).
      let end = found;
      if (text[end - 1] === '\n') end--;
      if (text[end - 1] === '\r') end--;
      parts.push(splitPart(body.subarray(start, Math.max(start, end))));
    }
    if (text.startsWith('--', position)) break;
    const lineEnd = text.indexOf('\n', position);
    if (lineEnd < 0) break;
    start = lineEnd + 1;
  }
  return parts;
}

function decodeTransfer(body: Uint8Array, encoding: string | undefined): Uint8Array {
  const kind = encoding?.trim().toLowerCase();
  if (kind === 'base64') {
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      .toString('latin1')
      .replace(/[^A-Za-z0-9+/=]/g, '');
    return new Uint8Array(Buffer.from(text, 'base64'));
  }
  if (kind === 'quoted-printable') {
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      .toString('latin1')
      .replace(/=\r?\n/g, '');
    const out = Buffer.alloc(text.length);
    let length = 0;
    for (let index = 0; index < text.length; index++) {
      const char = text.charCodeAt(index);
      if (char === 0x3d && /^[0-9A-Fa-f]{2}$/.test(text.slice(index + 1, index + 3))) {
        out[length++] = Number.parseInt(text.slice(index + 1, index + 3), 16);
        index += 2;
      } else {
        out[length++] = char & 0xff;
      }
    }
    return new Uint8Array(out.subarray(0, length));
  }
  return body;
}

function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  try {
    return new TextDecoder(charset?.trim() || 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}
