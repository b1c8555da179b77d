import { randomBytes } from 'node:crypto';
import {
  type EmailAddress,
  type EmailData,
  FolderType,
  type LastVerb,
  type MailboxStore,
  NotFoundError,
} from '@easkit/mailbox';
import { eas } from '@easkit/wbxml';
import { EasHttpError } from '../http/errors.js';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast } from '../http/protocol-version.js';
import {
  checkMimeStructure,
  decodeEncodedWords,
  envelopeRecipients,
  headerAddresses,
  headerValues,
  InvalidMessageError,
  joinMessage,
  MailSubmissionError,
  type MailSubmitter,
  type RawHeaderField,
  type SplitMessage,
  splitMessage,
  UnresolvedRecipientError,
  withoutBcc,
} from './mail-submitter.js';

const { ComposeMail: CM } = eas;

/**
 * ComposeMail `Status` values (MS-ASCMD 2.2.2 common statuses) that SendMail, SmartReply and SmartForward
 * answer. Not used: 113 (mailbox quota) and 115 (send quota), which need quotas this server does not keep;
 * 117 (reply not allowed), which needs rights management.
 */
export const ComposeMailStatus = {
  InvalidWbxml: 102,
  InvalidXml: 103,
  /** The MIME cannot be read: no header block, a header block over 256 KiB, too many nested multiparts. */
  InvalidMime: 107,
  ServerError: 110,
  ServerErrorRetryLater: 111,
  /** A recipient nobody can deliver to (unknown local address, remote address without relay, RCPT refused). */
  MessageRecipientUnresolved: 116,
  MessagePreviouslySent: 118,
  MessageHasNoRecipient: 119,
  MailSubmissionFailed: 120,
  /** SmartReply/SmartForward could not build the message from the original. */
  MessageReplyFailed: 121,
  /** The outgoing message (with a forwarded original) is larger than `maxMessageBytes`. */
  AttachmentTooLarge: 122,
  ItemNotFound: 150,
} as const;
export type ComposeMailStatus = (typeof ComposeMailStatus)[keyof typeof ComposeMailStatus];

/**
 * HTTP statuses of the 2.5-12.1 form, which has no Status element: the request is refused at the HTTP layer.
 * Chosen here (the spec leaves them to the server): 400 for a message that cannot be sent as given, 404 for a
 * missing source item, 503 for a relay that did not take the message (the client may retry).
 */
const LEGACY_HTTP_STATUS: Record<ComposeMailStatus, number> = {
  102: 400,
  103: 400,
  107: 400,
  110: 500,
  111: 503,
  116: 400,
  118: 200,
  119: 400,
  120: 503,
  121: 500,
  122: 413,
  150: 404,
};

export interface SendMailServices {
  readonly mailbox: MailboxStore;
  readonly submitter: MailSubmitter;
}

export interface SendMailOptions {
  /** How long a ClientId is remembered so that a resent request is not sent twice; default 10 minutes. */
  readonly clientIdWindowMs?: number;
  /** How many ClientIds are remembered at most (oldest forgotten first); default 10 000. */
  readonly maxClientIds?: number;
  /** The clock; tests inject one. */
  readonly now?: () => Date;
  /** Where failures are reported (the status sent to the device says less). */
  readonly onError?: (error: unknown) => void;
  /** The largest outgoing message, forwarded original included; larger gets Status 122. Default 32 MiB. */
  readonly maxMessageBytes?: number;
}

type Kind = 'SendMail' | 'SmartReply' | 'SmartForward';

class StatusError extends Error {
  constructor(
    readonly status: ComposeMailStatus,
    message: string,
  ) {
    super(message);
  }
}

interface ComposeRequest {
  readonly clientId: string | undefined;
  readonly saveInSent: boolean;
  readonly replaceMime: boolean;
  readonly sourceItemId: string | undefined;
  readonly sourceFolderId: string | undefined;
  readonly mime: Uint8Array;
}

/** Remembers ClientIds of sent messages per user for a while. */
class ClientIdMemory {
  readonly #seen = new Map<string, number>();

  constructor(
    readonly windowMs: number,
    readonly max: number,
  ) {}

  has(key: string, now: number): boolean {
    const at = this.#seen.get(key);
    if (at === undefined) return false;
    if (now - at > this.windowMs) {
      this.#seen.delete(key);
      return false;
    }
    return true;
  }

  delete(key: string): void {
    this.#seen.delete(key);
  }

  add(key: string, now: number): void {
    this.#seen.delete(key);
    this.#seen.set(key, now);
    while (this.#seen.size > this.max) this.#seen.delete(this.#seen.keys().next().value!);
  }
}

/**
 * SendMail (MS-ASCMD 2.2.1.17): sends the device's MIME message. 14.0+: a `ComposeMail:SendMail` WBXML body
 * with ClientId, SaveInSentItems and Mime; 2.5-12.1: the MIME as the raw `message/rfc822` body and
 * `SaveInSent=T` in the query. Bcc fields are removed before submission and kept in the Sent Items copy.
 */
export function sendMailCommand(
  services: SendMailServices,
  options: SendMailOptions = {},
): EasCommandHandler {
  return composeCommand('SendMail', services, options);
}

/**
 * SmartReply (MS-ASCMD 2.2.1.20): like SendMail, with a source item. Without ReplaceMime the original's text is
 * appended as a quoted part; In-Reply-To and References are set; the original's LastVerbExecuted becomes
 * 1 (reply to sender) or 2 (reply to all, when the reply has more than one recipient).
 */
export function smartReplyCommand(
  services: SendMailServices,
  options: SendMailOptions = {},
): EasCommandHandler {
  return composeCommand('SmartReply', services, options);
}

/**
 * SmartForward (MS-ASCMD 2.2.1.19): like SendMail, with a source item. Without ReplaceMime the original
 * message is attached whole (`message/rfc822`, so its attachments travel with it); the original's
 * LastVerbExecuted becomes 3.
 */
export function smartForwardCommand(
  services: SendMailServices,
  options: SendMailOptions = {},
): EasCommandHandler {
  return composeCommand('SmartForward', services, options);
}

/** The three handlers sharing one ClientId memory, ready to spread into a command table. */
export function composeMailCommands(
  services: SendMailServices,
  options: SendMailOptions = {},
): Record<Kind, EasCommandHandler> {
  const memory = newMemory(options);
  return {
    SendMail: composeCommand('SendMail', services, options, memory),
    SmartReply: composeCommand('SmartReply', services, options, memory),
    SmartForward: composeCommand('SmartForward', services, options, memory),
  };
}

function newMemory(options: SendMailOptions): ClientIdMemory {
  return new ClientIdMemory(options.clientIdWindowMs ?? 10 * 60_000, options.maxClientIds ?? 10_000);
}

function composeCommand(
  kind: Kind,
  services: SendMailServices,
  options: SendMailOptions,
  memory = newMemory(options),
): EasCommandHandler {
  const now = options.now ?? (() => new Date());
  return async (context) => {
    const wbxml = context.body !== undefined || atLeast(context.head.protocolVersion, '14.0');
    try {
      const request = readRequest(kind, context);
      const key =
        request.clientId === undefined ? undefined : `${context.identity.userId}\u0000${request.clientId}`;
      if (key !== undefined && memory.has(key, now().getTime())) {
        throw new StatusError(ComposeMailStatus.MessagePreviouslySent, 'ClientId already sent');
      }
      // Reserved before sending, so that a resend arriving while this one is in flight is refused too;
      // released when nothing was sent, so that the device may retry.
      if (key !== undefined) memory.add(key, now().getTime());
      try {
        await compose(kind, services, context, request, now(), options);
      } catch (error) {
        if (key !== undefined) memory.delete(key);
        throw error;
      }
      return { kind: 'empty' };
    } catch (error) {
      const status = statusOf(error);
      if (status === ComposeMailStatus.ServerError || status === ComposeMailStatus.MailSubmissionFailed) {
        options.onError?.(error);
      }
      return failure(kind, wbxml, status, error);
    }
  };
}

function statusOf(error: unknown): ComposeMailStatus {
  if (error instanceof StatusError) return error.status;
  if (error instanceof InvalidMessageError) {
    return error.code === 'no-recipients'
      ? ComposeMailStatus.MessageHasNoRecipient
      : ComposeMailStatus.InvalidMime;
  }
  if (error instanceof MailSubmissionError) return ComposeMailStatus.MailSubmissionFailed;
  if (error instanceof UnresolvedRecipientError) return ComposeMailStatus.MessageRecipientUnresolved;
  if (error instanceof NotFoundError && error.entity === 'item') return ComposeMailStatus.ItemNotFound;
  return ComposeMailStatus.ServerError;
}

function failure(kind: Kind, wbxml: boolean, status: ComposeMailStatus, error: unknown): EasCommandResult {
  if (!wbxml) {
    const httpStatus = LEGACY_HTTP_STATUS[status];
    if (httpStatus === 200) return { kind: 'empty' };
    throw new EasHttpError(httpStatus, `${kind} failed: ${error instanceof Error ? error.message : 'error'}`);
  }
  return { kind: 'wbxml', body: CM[kind](CM.Status(status)) };
}

function readRequest(kind: Kind, context: EasCommandContext): ComposeRequest {
  const body = context.body;
  if (body === undefined) {
    if (atLeast(context.head.protocolVersion, '14.0')) {
      throw new StatusError(ComposeMailStatus.InvalidXml, `${kind} needs a ComposeMail body from 14.0 on`);
    }
    const parameters = context.head.parameters;
    return {
      clientId: undefined,
      saveInSent: parameters.saveInSent === true,
      replaceMime: false,
      sourceItemId: parameters.itemId ?? parameters.longId,
      sourceFolderId: parameters.itemId === undefined ? undefined : parameters.collectionId,
      mime: context.rawBody,
    };
  }
  if (body.qualifiedName !== `ComposeMail:${kind}`) {
    throw new StatusError(
      ComposeMailStatus.InvalidXml,
      `expected ComposeMail:${kind}, got ${body.qualifiedName}`,
    );
  }
  const mime = body.bytesOf('ComposeMail:Mime');
  if (!mime || mime.length === 0) throw new StatusError(ComposeMailStatus.InvalidXml, `${kind} has no Mime`);
  const source = body.child('ComposeMail:Source');
  const longId = source?.textOf('ComposeMail:LongId');
  const itemId = source?.textOf('ComposeMail:ItemId');
  if (kind !== 'SendMail' && itemId === undefined && longId === undefined) {
    throw new StatusError(ComposeMailStatus.InvalidXml, `${kind} needs a Source with ItemId or LongId`);
  }
  return {
    clientId: body.textOf('ComposeMail:ClientId'),
    saveInSent: body.has('ComposeMail:SaveInSentItems'),
    replaceMime: body.has('ComposeMail:ReplaceMime'),
    sourceItemId: itemId ?? longId,
    sourceFolderId: itemId === undefined ? undefined : source?.textOf('ComposeMail:FolderId'),
    mime,
  };
}

async function compose(
  kind: Kind,
  services: SendMailServices,
  context: EasCommandContext,
  request: ComposeRequest,
  now: Date,
  options: SendMailOptions,
): Promise<void> {
  const { onError } = options;
  const maxMessageBytes = options.maxMessageBytes ?? 32 * 1024 * 1024;
  const userId = context.identity.userId;
  const { mailbox } = services;
  const user = await mailbox.getUser(userId);

  let original: { id: string; data: EmailData } | undefined;
  if (kind !== 'SendMail') {
    if (request.sourceItemId === undefined) {
      throw new StatusError(ComposeMailStatus.ItemNotFound, `${kind} without a source item`);
    }
    const item = await mailbox.getItem(userId, request.sourceItemId);
    if (
      item.class !== 'Email' ||
      (request.sourceFolderId !== undefined && item.folderId !== request.sourceFolderId)
    ) {
      throw new StatusError(
        ComposeMailStatus.ItemNotFound,
        'the source item is not a message of that folder',
      );
    }
    original = { id: item.id, data: item.data };
  }

  checkMimeStructure(request.mime);
  let message = splitMessage(request.mime);
  if (original && kind === 'SmartReply') message = threadReply(message, original.data.mime);
  if (original && !request.replaceMime) {
    try {
      message =
        kind === 'SmartReply'
          ? await appendQuotedOriginal(message, mailbox, userId, original)
          : attachOriginal(message, original.data.mime);
    } catch (error) {
      throw new StatusError(
        ComposeMailStatus.MessageReplyFailed,
        `${kind} could not use the original: ${error instanceof Error ? error.message : 'error'}`,
      );
    }
  }
  message = ensureHeaders(message, user.primarySmtpAddress, now);
  const size = message.body.byteLength + message.fields.reduce((sum, entry) => sum + entry.raw.length + 2, 2);
  if (size > maxMessageBytes) {
    throw new StatusError(ComposeMailStatus.AttachmentTooLarge, `the message is ${size} bytes`);
  }

  const recipients = envelopeRecipients(message.fields);
  if (recipients.length === 0)
    throw new InvalidMessageError('no-recipients', 'the message has no recipients');

  await services.submitter.submit({ from: user.primarySmtpAddress, recipients, mime: withoutBcc(message) });

  // The message is out: the remaining steps must not make the device send it again.
  // A failure here is reported to the operator but not to the device, which would otherwise send it again.
  if (request.saveInSent) await saveCopy(mailbox, userId, message, now).catch((error) => onError?.(error));
  if (original) {
    const verb: LastVerb = kind === 'SmartForward' ? 3 : recipients.length > 1 ? 2 : 1;
    await mailbox
      .updateItem(userId, original.id, {
        class: 'Email',
        data: { lastVerbExecuted: verb, lastVerbExecutionTime: now },
      })
      .catch((error) => onError?.(error));
  }
}

/** Adds Date, Message-ID and From (the account's address) when the device left them out. */
function ensureHeaders(message: SplitMessage, from: string, now: Date): SplitMessage {
  const fields = [...message.fields];
  const has = (name: string) => headerValues(fields, name).length > 0;
  if (!has('From')) fields.unshift(field('From', from));
  if (!has('Date')) fields.unshift(field('Date', now.toUTCString().replace('GMT', '+0000')));
  if (!has('Message-ID')) {
    const domain = from.slice(from.lastIndexOf('@') + 1) || 'localhost';
    fields.unshift(field('Message-ID', `<${randomBytes(12).toString('hex')}@${domain}>`));
  }
  return { ...message, fields };
}

function field(name: string, value: string): RawHeaderField {
  return { name, raw: `${name}: ${value}`, value };
}

/** In-Reply-To and References of a reply, from the original's Message-ID (kept when the device set them). */
function threadReply(message: SplitMessage, originalMime: Uint8Array): SplitMessage {
  let originalFields: RawHeaderField[];
  try {
    originalFields = splitMessage(originalMime).fields;
  } catch {
    return message;
  }
  const messageId = headerValues(originalFields, 'Message-ID')[0]?.match(/<[^<>\s]+>/)?.[0];
  if (!messageId) return message;
  const fields = [...message.fields];
  if (headerValues(fields, 'In-Reply-To').length === 0) fields.push(field('In-Reply-To', messageId));
  if (headerValues(fields, 'References').length === 0) {
    const earlier = headerValues(originalFields, 'References')[0]?.match(/<[^<>\s]+>/g) ?? [];
    fields.push(field('References', [...earlier, messageId].join(' ')));
  }
  return { ...message, fields };
}

const CONTENT_FIELD = /^(content-|mime-version$)/i;

/**
 * Wraps the device's message into a multipart/mixed: its own content first, then `extra` parts. The device's
 * envelope headers (From, To, Subject, ...) stay on the outer message; its Content-* fields go to the first part.
 */
function wrapMixed(message: SplitMessage, extra: Uint8Array[]): SplitMessage {
  const eol = '\r\n';
  const boundary = `----=_easkit_${randomBytes(12).toString('hex')}`;
  const outer = message.fields.filter((entry) => !CONTENT_FIELD.test(entry.name));
  const inner = message.fields.filter(
    (entry) => CONTENT_FIELD.test(entry.name) && !/^mime-version$/i.test(entry.name),
  );
  if (inner.length === 0) inner.push(field('Content-Type', 'text/plain; charset=us-ascii'));
  const first = joinMessage(inner, message.body, message.eol);
  const chunks: Uint8Array[] = [];
  for (const part of [first, ...extra]) {
    chunks.push(Buffer.from(`--${boundary}${eol}`, 'latin1'), part, Buffer.from(eol, 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--${eol}`, 'latin1'));
  return {
    fields: [
      ...outer,
      field('MIME-Version', '1.0'),
      field('Content-Type', `multipart/mixed; boundary="${boundary}"`),
    ],
    body: Buffer.concat(chunks),
    eol: message.eol,
  };
}

/** SmartForward: the original message rides along whole, attachments and all, as `message/rfc822`. */
function attachOriginal(message: SplitMessage, originalMime: Uint8Array): SplitMessage {
  let name = 'forwarded message';
  try {
    const subject = headerValues(splitMessage(originalMime).fields, 'Subject')[0];
    if (subject) name = decodeEncodedWords(subject);
  } catch {
    // An original without readable headers is still attached as it is.
  }
  const safeName = `${name.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, 200)}.eml`;
  const head = Buffer.from(
    `Content-Type: message/rfc822${'\r\n'}Content-Disposition: attachment; filename="${safeName}"\r\n\r\n`,
    'latin1',
  );
  return wrapMixed(message, [Buffer.concat([head, originalMime])]);
}

/** SmartReply: the original's text, quoted line by line, as an inline text part after the device's text. */
async function appendQuotedOriginal(
  message: SplitMessage,
  mailbox: MailboxStore,
  userId: string,
  original: { id: string; data: EmailData },
): Promise<SplitMessage> {
  const body = await mailbox.readBody(userId, original.id, { type: 'plain' });
  const text = body.type === 'mime' ? '' : body.data;
  const from = original.data.from;
  const intro = `-----Original Message-----\r\nFrom: ${from ? formatAddress(from) : ''}\r\nSent: ${original.data.dateReceived.toUTCString()}\r\nSubject: ${original.data.subject ?? ''}\r\n\r\n`;
  const quoted = text
    .split(/\r?\n/)
    .map((line) => `> ${line}`)
    .join('\r\n');
  const content = Buffer.from(`${intro}${quoted}\r\n`, 'utf8').toString('base64');
  const lines = content.match(/.{1,76}/g) ?? [];
  const part = Buffer.from(
    `Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n${lines.join('\r\n')}\r\n`,
    'latin1',
  );
  return wrapMixed(message, [part]);
}

function formatAddress(address: EmailAddress): string {
  return address.name ? `${address.name} <${address.address}>` : address.address;
}

/** Files the sent message (Bcc kept) in the user's Sent Items; skipped when the user has no such folder. */
async function saveCopy(
  mailbox: MailboxStore,
  userId: string,
  message: SplitMessage,
  now: Date,
): Promise<void> {
  const sent = (await mailbox.listFolders(userId)).find((folder) => folder.type === FolderType.SentItems);
  if (!sent) return;
  const fields = message.fields;
  const to = headerAddresses(fields, 'To').map(toEmailAddress);
  const cc = headerAddresses(fields, 'Cc').map(toEmailAddress);
  const bcc = headerAddresses(fields, 'Bcc').map(toEmailAddress);
  const from = headerAddresses(fields, 'From').map(toEmailAddress)[0];
  const subject = headerValues(fields, 'Subject')[0];
  const data: EmailData = {
    mime: joinMessage(fields, message.body, message.eol),
    subject: subject === undefined ? '' : decodeEncodedWords(subject),
    dateReceived: now,
    read: true,
    messageClass: 'IPM.Note',
  };
  if (from) data.from = from;
  if (to.length) {
    data.to = to;
    data.displayTo = to.map((address) => address.name || address.address).join('; ');
  }
  if (cc.length) data.cc = cc;
  if (bcc.length) data.bcc = bcc;
  await mailbox.createItem(userId, sent.id, { class: 'Email', data });
}

function toEmailAddress(address: { name: string; address: string }): EmailAddress {
  return address.name ? { name: address.name, address: address.address } : { address: address.address };
}
