import { createHash } from 'node:crypto';
import { headerValues, type RawHeaderField, splitMessage } from '@easkit/eas-commands';

/**
 * What an imported message says about itself beyond what delivery reads (addresses, subject): its identity
 * for duplicate detection, its dates, and the state mail programs write into mbox headers.
 */
export interface MessageFacts {
  /** The Message-ID without angle brackets and white space, when there is one. */
  readonly messageId?: string;
  /** The time in the newest (topmost) Received field. */
  readonly received?: Date;
  /** The Date field. */
  readonly date?: Date;
  /** Read state from Status / X-Mozilla-Status / X-Gmail-Labels; undefined when none says. */
  readonly read?: boolean;
  readonly flagged?: boolean;
  readonly answered?: boolean;
  /** Marked deleted but not yet expunged (X-Status D, X-Mozilla-Status 0x0008). */
  readonly deleted?: boolean;
}

/**
 * Reads the facts of a message's header block.
 * @throws InvalidMessageError (from `splitMessage`) when the message has no readable header block.
 */
export function messageFacts(mime: Uint8Array): MessageFacts {
  return factsOfFields(splitMessage(mime).fields);
}

export function factsOfFields(fields: readonly RawHeaderField[]): MessageFacts {
  const facts: {
    -readonly [K in keyof MessageFacts]: MessageFacts[K];
  } = {};
  const id = headerValues(fields, 'Message-ID')[0]?.replace(/\s+/g, '');
  if (id) facts.messageId = id.replace(/^<(.*)>$/, '$1') || id;
  const received = headerValues(fields, 'Received')[0];
  const receivedDate = received ? parseDate(received.slice(received.lastIndexOf(';') + 1)) : undefined;
  if (receivedDate) facts.received = receivedDate;
  const date = parseDate(headerValues(fields, 'Date')[0] ?? '');
  if (date) facts.date = date;

  // mutt, Pine and friends: Status R(ead) O(ld); X-Status A(nswered) F(lagged) D(eleted).
  const status = headerValues(fields, 'Status')[0];
  if (status !== undefined) facts.read = status.includes('R');
  const xStatus = headerValues(fields, 'X-Status')[0];
  if (xStatus !== undefined) {
    if (xStatus.includes('F')) facts.flagged = true;
    if (xStatus.includes('A')) facts.answered = true;
    if (xStatus.includes('D')) facts.deleted = true;
  }
  // Thunderbird: a hex bit field; 0x1 read, 0x2 replied, 0x4 marked, 0x8 expunged.
  const mozilla = headerValues(fields, 'X-Mozilla-Status')[0];
  if (mozilla !== undefined && /^[0-9a-f]{1,4}$/i.test(mozilla)) {
    const bits = Number.parseInt(mozilla, 16);
    facts.read = (bits & 0x1) !== 0;
    if (bits & 0x2) facts.answered = true;
    if (bits & 0x4) facts.flagged = true;
    if (bits & 0x8) facts.deleted = true;
  }
  // Google Takeout: labels, "Unread" and "Starred" among them.
  const labels = headerValues(fields, 'X-Gmail-Labels')[0];
  if (labels !== undefined) {
    const names = labels.split(',').map((label) => label.trim().toLowerCase());
    facts.read = !names.includes('unread');
    if (names.includes('starred')) facts.flagged = true;
  }
  return facts;
}

/** A header date, or undefined when it is missing, unreadable or outside the years EAS can carry. */
export function parseDate(value: string): Date | undefined {
  const cleaned = value.replace(/\([^)]*\)/g, ' ').trim();
  if (!cleaned) return undefined;
  const time = Date.parse(cleaned);
  if (Number.isNaN(time) || time < Date.UTC(1601, 0, 1) || time >= Date.UTC(10000, 0, 1)) return undefined;
  return new Date(time);
}

/**
 * The identity used to recognise a message already imported into a folder: its Message-ID, or for a message
 * without one, a SHA-256 of its bytes.
 */
export function messageKey(mime: Uint8Array, facts: MessageFacts): string {
  if (facts.messageId) return `id:${facts.messageId}`;
  return `sha256:${createHash('sha256').update(mime).digest('hex')}`;
}
