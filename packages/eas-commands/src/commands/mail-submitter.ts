import { createTransport } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser/index.js';

/** One message to hand to the outgoing mail system: the SMTP envelope and the exact bytes to transmit. */
export interface MailSubmission {
  /** Envelope sender (`MAIL FROM`). */
  readonly from: string;
  /** Envelope recipients (`RCPT TO`), already including Bcc recipients. */
  readonly recipients: readonly string[];
  /** The RFC 5322 message as it is to be transmitted (no Bcc header). */
  readonly mime: Uint8Array;
}

/**
 * Where SendMail, SmartReply and SmartForward hand outgoing mail. Implementations either accept the whole
 * message or throw {@link MailSubmissionError}; a submitter never delivers part of a message and then throws.
 */
export interface MailSubmitter {
  /**
   * @throws MailSubmissionError `rejected` (the relay refused it) or `unavailable` (could not reach the relay);
   * InvalidMessageError; UnresolvedRecipientError (a recipient nobody can deliver to).
   */
  submit(submission: MailSubmission): Promise<void>;
}

export type MailSubmissionFailure = 'rejected' | 'unavailable';

/** The outgoing mail system did not take the message. Nothing was sent. */
export class MailSubmissionError extends Error {
  override readonly name = 'MailSubmissionError';
  readonly code: MailSubmissionFailure;

  constructor(code: MailSubmissionFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The message cannot be sent as given: no header block, or no recipient at all. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
  readonly code: 'invalid-mime' | 'no-recipients';

  constructor(code: 'invalid-mime' | 'no-recipients', message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Recipients this server can neither deliver to nor relay for: an address in a local domain that no user owns,
 * or a remote address when there is no relay (SendMail Status 116, MessageRecipientUnresolved). Nothing was sent.
 */
export class UnresolvedRecipientError extends Error {
  override readonly name = 'UnresolvedRecipientError';
  readonly recipients: readonly string[];

  constructor(recipients: readonly string[], reason: string) {
    super(`${reason}: ${recipients.join(', ')}`);
    this.recipients = [...recipients];
  }
}

export interface SmtpSubmitterOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the server offers it. */
  readonly secure?: boolean;
  /** Refuse to send unless STARTTLS succeeds. */
  readonly requireTls?: boolean;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Connection, greeting and socket timeouts in milliseconds; default 30 000. */
  readonly timeoutMs?: number;
  /** Extra TLS options (e.g. `{ rejectUnauthorized: false }` for a test relay). */
  readonly tls?: Record<string, unknown>;
}

/** A {@link MailSubmitter} that relays through an SMTP server with nodemailer's SMTP transport. */
export function smtpSubmitter(options: SmtpSubmitterOptions): MailSubmitter & { close(): void } {
  const timeout = options.timeoutMs ?? 30_000;
  const transport = createTransport({
    host: options.host,
    port: options.port,
    secure: options.secure ?? false,
    ...(options.requireTls ? { requireTLS: true } : {}),
    ...(options.auth ? { auth: { user: options.auth.user, pass: options.auth.pass } } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  return {
    async submit(submission) {
      if (submission.recipients.length === 0) {
        throw new InvalidMessageError('no-recipients', 'the message has no recipients');
      }
      try {
        await transport.sendMail({
          envelope: { from: submission.from, to: [...submission.recipients] },
          raw: Buffer.from(submission.mime.buffer, submission.mime.byteOffset, submission.mime.byteLength),
        });
      } catch (error) {
        const responseCode = (error as { responseCode?: unknown }).responseCode;
        const command = (error as { command?: unknown }).command;
        if (typeof responseCode === 'number' && responseCode >= 500 && command === 'RCPT TO') {
          // Every recipient refused: nodemailer sends nothing when none is accepted.
          const rejected = (error as { rejected?: unknown }).rejected;
          throw new UnresolvedRecipientError(
            Array.isArray(rejected) ? rejected.map(String) : [...submission.recipients],
            `SMTP relay refused the recipients (${responseCode})`,
          );
        }
        if (typeof responseCode === 'number' && responseCode >= 500) {
          throw new MailSubmissionError('rejected', `SMTP relay refused the message (${responseCode})`, {
            cause: error,
          });
        }
        throw new MailSubmissionError('unavailable', 'SMTP relay could not take the message', {
          cause: error,
        });
      }
    },
    close() {
      transport.close();
    },
  };
}

// --- Header handling -------------------------------------------------------------------------------------

/** One header field as it appears in the message, folding kept. */
export interface RawHeaderField {
  /** The field name as written. */
  readonly name: string;
  /** The whole field including name, colon and folded continuation lines, without the final line break. */
  readonly raw: string;
  /** The unfolded value after the colon, trimmed. */
  readonly value: string;
}

/** A message split into its header fields and its body (the bytes after the blank line). */
export interface SplitMessage {
  readonly fields: RawHeaderField[];
  readonly body: Uint8Array;
  /** The line break style of the header block. */
  readonly eol: '\r\n' | '\n';
}

const MAX_HEADER_BYTES = 256 * 1024;

/**
 * Splits an RFC 5322 message at the first empty line. Header bytes are read as latin1 so that every byte
 * survives a round trip unchanged (8-bit headers included).
 * @throws InvalidMessageError `invalid-mime` when there is no header block or it is too large.
 */
export function splitMessage(mime: Uint8Array): SplitMessage {
  const limit = Math.min(mime.length, MAX_HEADER_BYTES);
  let end = -1;
  let bodyStart = -1;
  let eol: '\r\n' | '\n' = '\r\n';
  for (let index = 0; index < limit; index++) {
    if (mime[index] !== 0x0a) continue;
    if (mime[index + 1] === 0x0a) {
      end = index + 1;
      bodyStart = index + 2;
      eol = mime[index - 1] === 0x0d ? '\r\n' : '\n';
      break;
    }
    if (mime[index + 1] === 0x0d && mime[index + 2] === 0x0a) {
      end = index + 1;
      bodyStart = index + 3;
      eol = '\r\n';
      break;
    }
  }
  if (end < 0) {
    // A message that is only headers (no body) is still a message.
    if (mime.length > 0 && mime.length <= MAX_HEADER_BYTES) {
      end = mime.length;
      bodyStart = mime.length;
    } else {
      throw new InvalidMessageError('invalid-mime', 'the message has no header block');
    }
  }
  const text = Buffer.from(mime.buffer, mime.byteOffset, end).toString('latin1');
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const fields: RawHeaderField[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields.pop()!;
      fields.push({
        name: last.name,
        raw: `${last.raw}${eol}${line}`,
        value: `${last.value} ${line.trim()}`.trim(),
      });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || !/^[!-9;-~]+$/.test(line.slice(0, colon).trimEnd())) {
      throw new InvalidMessageError('invalid-mime', 'the header block is malformed');
    }
    fields.push({ name: line.slice(0, colon).trimEnd(), raw: line, value: line.slice(colon + 1).trim() });
  }
  if (fields.length === 0) throw new InvalidMessageError('invalid-mime', 'the message has no header fields');
  return { fields, body: mime.subarray(bodyStart), eol };
}

/** More multipart boundaries than this in one message is taken for a MIME bomb. */
const MAX_BOUNDARIES = 100;

/**
 * Refuses messages whose structure is hostile before anything parses them: more than 100 multipart boundary
 * declarations (deep nesting or a flood of parts; real mail, forwards of forwards included, stays far below).
 * The header block limit is {@link splitMessage}'s.
 * @throws InvalidMessageError `invalid-mime`.
 */
export function checkMimeStructure(mime: Uint8Array): void {
  const text = Buffer.from(mime.buffer, mime.byteOffset, mime.byteLength).toString('latin1');
  const pattern = /boundary\s*=/gi;
  let count = 0;
  while (pattern.exec(text)) {
    if (++count > MAX_BOUNDARIES) {
      throw new InvalidMessageError('invalid-mime', `more than ${MAX_BOUNDARIES} multipart boundaries`);
    }
  }
}

/** The unfolded values of every field with this name (case-insensitive). */
export function headerValues(fields: readonly RawHeaderField[], name: string): string[] {
  const wanted = name.toLowerCase();
  return fields.filter((field) => field.name.toLowerCase() === wanted).map((field) => field.value);
}

/** A parsed address: `name` decoded from RFC 2047 encoded words, empty when absent. */
export interface ParsedAddress {
  readonly name: string;
  readonly address: string;
}

/** The addresses of every field with this name; groups are flattened, entries without an address dropped. */
export function headerAddresses(fields: readonly RawHeaderField[], name: string): ParsedAddress[] {
  const found: ParsedAddress[] = [];
  for (const value of headerValues(fields, name)) {
    for (const entry of addressparser(value, { flatten: true })) {
      const address = entry.address.trim();
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) continue;
      found.push({ name: decodeEncodedWords(entry.name ?? ''), address });
    }
  }
  return found;
}

/** Envelope recipients of a message: To, Cc and Bcc, de-duplicated case-insensitively. */
export function envelopeRecipients(fields: readonly RawHeaderField[]): string[] {
  const seen = new Set<string>();
  const recipients: string[] = [];
  for (const name of ['To', 'Cc', 'Bcc']) {
    for (const { address } of headerAddresses(fields, name)) {
      const key = address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      recipients.push(address);
    }
  }
  return recipients;
}

/** Reassembles a message from header fields and a body. */
export function joinMessage(fields: readonly RawHeaderField[], body: Uint8Array, eol: string): Uint8Array {
  const head = Buffer.from(`${fields.map((field) => field.raw).join(eol)}${eol}${eol}`, 'latin1');
  const joined = new Uint8Array(head.length + body.length);
  joined.set(head, 0);
  joined.set(body, head.length);
  return joined;
}

/** The message without its Bcc fields, as it must be transmitted. */
export function withoutBcc(message: SplitMessage): Uint8Array {
  return joinMessage(
    message.fields.filter((field) => field.name.toLowerCase() !== 'bcc'),
    message.body,
    message.eol,
  );
}

/** Decodes RFC 2047 encoded words (`=?charset?B|Q?...?=`); undecodable words are left as they are. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(
      /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g,
      (word, charset: string, encoding: string, text: string) => {
        try {
          const bytes =
            encoding.toUpperCase() === 'B'
              ? Buffer.from(text, 'base64')
              : Buffer.from(
                  text
                    .replace(/_/g, ' ')
                    .replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) =>
                      String.fromCharCode(Number.parseInt(hex, 16)),
                    ),
                  'latin1',
                );
          return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
        } catch {
          return word;
        }
      },
    );
}
