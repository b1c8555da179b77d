/*
 * Streaming mbox reader. Both common variants are read the same way: a line starting with "From " opens a
 * message (writers quote such lines in bodies, so in a well-formed file every one of them is a separator),
 * and one ">" is removed from every line matching /^>+From / (mboxrd's reversible quoting; for mboxo the
 * same rule undoes the quoting of "From " lines, which is all mboxo quoting can be undone). The blank line a
 * writer puts before each separator belongs to the file format, not the message, and is dropped.
 *
 * Memory stays bounded by the largest message: the file is read chunk by chunk and each message is handed on
 * as soon as the next separator (or the end of the file) is seen. A message over the size limit is reported
 * as too large and its bytes are dropped as they arrive.
 */

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM_SPACE = Buffer.from('From ', 'latin1');

/** One message of an mbox, or the notice that one was dropped. */
export type MboxEntry =
  | {
      /** 1-based position in the file. */
      readonly index: number;
      readonly mime: Uint8Array;
      /** The separator line without "From " and the line break, e.g. `ada@example.com Thu Jan  2 10:00:00 2025`. */
      readonly postmark: string;
      /** The delivery time written in the separator line, when it has one. */
      readonly deliveredAt?: Date;
    }
  | { readonly index: number; readonly tooLarge: true; readonly bytes: number; readonly postmark: string };

export interface MboxReadOptions {
  /** Messages larger than this are reported as `tooLarge` instead of being read. */
  readonly maxMessageBytes: number;
  /** Filled in while reading: the most bytes held at once (message so far plus an unfinished line). */
  readonly stats?: { peakBufferedBytes: number };
}

/** The data does not start with a "From " line: it is not an mbox. */
export class NotMboxError extends Error {
  override readonly name = 'NotMboxError';
}

/**
 * Reads messages from mbox data as it arrives (a `fs.createReadStream`, or any async iterable of byte chunks).
 * Leading blank lines are allowed; anything else before the first "From " line throws {@link NotMboxError}.
 */
export async function* readMbox(
  chunks: AsyncIterable<Uint8Array>,
  options: MboxReadOptions,
): AsyncGenerator<MboxEntry> {
  const max = options.maxMessageBytes;
  // The message being read: its lines (unquoted), their total size, whether it already went over the limit.
  let parts: Buffer[] = [];
  let size = 0;
  let oversized = false;
  let index = 0;
  let postmark: string | undefined;
  // The last line of the message so far was empty (so it may be the writer's blank line before a separator).
  let lastLineBlank = false;
  let blankLine: Buffer | undefined;
  // An unfinished line carried over from the previous chunk; only its start is kept once it is known to be long.
  let pending: Buffer[] = [];
  let pendingSize = 0;
  let pendingTruncated = false;

  const track = () => {
    if (options.stats) {
      const held = size + pendingSize;
      if (held > options.stats.peakBufferedBytes) options.stats.peakBufferedBytes = held;
    }
  };

  /** Keeps the unfinished end of a chunk for the next one, but never more than the message limit. */
  function holdPartial(rest: Buffer) {
    if (pendingTruncated) return;
    if (pendingSize + rest.length <= max) {
      pending.push(Buffer.from(rest));
      pendingSize += rest.length;
      return;
    }
    const head = Buffer.concat([...pending, rest.subarray(0, FROM_SPACE.length)]).subarray(
      0,
      FROM_SPACE.length,
    );
    pending = [Buffer.from(head)];
    pendingSize = head.length;
    pendingTruncated = true;
  }

  function finish(): MboxEntry | undefined {
    if (postmark === undefined) return undefined;
    index++;
    const line = postmark;
    postmark = undefined;
    if (oversized) {
      const entry: MboxEntry = { index, tooLarge: true, bytes: size, postmark: line };
      reset();
      return entry;
    }
    // The blank line before the separator is the format's, not the message's.
    if (lastLineBlank && blankLine && parts.at(-1) === blankLine) parts.pop();
    const mime = new Uint8Array(Buffer.concat(parts));
    reset();
    const deliveredAt = postmarkDate(line);
    return { index, mime, postmark: line, ...(deliveredAt ? { deliveredAt } : {}) };
  }

  function reset() {
    parts = [];
    size = 0;
    oversized = false;
    lastLineBlank = false;
    blankLine = undefined;
  }

  /** Handles one complete line (with its line break, if it had one). Returns a finished message, if any. */
  function line(bytes: Buffer, truncated: boolean): MboxEntry | undefined {
    if (startsWith(bytes, FROM_SPACE)) {
      const done = finish();
      postmark = postmarkText(bytes);
      return done;
    }
    if (postmark === undefined) {
      if (isBlank(bytes)) return undefined;
      throw new NotMboxError('the data does not start with a "From " line');
    }
    let content = bytes;
    if (bytes[0] === GT) {
      let at = 0;
      while (bytes[at] === GT) at++;
      if (startsWith(bytes.subarray(at), FROM_SPACE)) content = bytes.subarray(1);
    }
    if (oversized || truncated || size + content.length > max) {
      oversized = true;
      size += content.length;
      parts = [];
      return undefined;
    }
    parts.push(content);
    size += content.length;
    lastLineBlank = isBlank(content);
    blankLine = lastLineBlank ? content : undefined;
    return undefined;
  }

  for await (const chunk of chunks) {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < data.length) {
      const end = data.indexOf(LF, start);
      if (end < 0) {
        holdPartial(data.subarray(start));
        track();
        break;
      }
      let bytes = data.subarray(start, end + 1);
      const truncated = pendingTruncated;
      if (pending.length > 0) {
        // A line cut short keeps only its start (enough to tell a separator); the rest of it is dropped.
        bytes = truncated ? Buffer.concat(pending) : Buffer.concat([...pending, bytes]);
        pending = [];
        pendingSize = 0;
        pendingTruncated = false;
      }
      start = end + 1;
      const entry = line(bytes, truncated);
      track();
      if (entry) yield entry;
    }
  }
  if (pending.length > 0) {
    const entry = line(Buffer.concat(pending), pendingTruncated);
    pending = [];
    pendingSize = 0;
    if (entry) yield entry;
  }
  const last = finish();
  if (last) yield last;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (bytes[index] !== prefix[index]) return false;
  return true;
}

function isBlank(bytes: Uint8Array): boolean {
  return (
    bytes.length === 0 || (bytes.length === 1 && bytes[0] === LF) || (bytes.length === 2 && bytes[0] === CR)
  );
}

function postmarkText(bytes: Buffer): string {
  return bytes
    .subarray(FROM_SPACE.length, Math.min(bytes.length, 1000))
    .toString('latin1')
    .replace(/\r?\n$/, '')
    .trim();
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The delivery time of a separator line in the asctime form writers use (`sender Thu Jan  2 10:00:00 2025`,
 * sometimes with a zone before the year, as Thunderbird's `- Thu Jan 02 10:00:00 2025`), read as UTC.
 */
export function postmarkDate(postmark: string): Date | undefined {
  const match =
    /\b[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:[A-Z]{2,5}\s+|[+-]\d{4}\s+)?(\d{4})\b/.exec(
      postmark,
    );
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[1]!.toLowerCase());
  if (month < 0) return undefined;
  const date = new Date(Date.UTC(+match[6]!, month, +match[2]!, +match[3]!, +match[4]!, +(match[5] ?? 0)));
  return Number.isNaN(date.getTime()) ? undefined : date;
}
