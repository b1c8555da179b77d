import type { EmailAddress, EmailData, Importance, StoredBody } from '@easkit/mailbox';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

/** What a 16.x client composes in its Drafts folder (MS-ASEMAIL drafts), as the Email model names it. */
export interface DraftFields {
  readonly from: EmailAddress;
  readonly to?: readonly EmailAddress[];
  readonly cc?: readonly EmailAddress[];
  readonly bcc?: readonly EmailAddress[];
  readonly subject?: string;
  readonly importance?: Importance;
  readonly body?: StoredBody;
  /** Attachments (16.x `airsyncbase:Attachments`), in the order they are to appear. */
  readonly attachments?: readonly DraftAttachment[];
}

/** One attachment of a draft, with its bytes. */
export interface DraftAttachment {
  readonly displayName: string;
  readonly content: Uint8Array;
  readonly contentType?: string;
  /** Content-ID without angle brackets, for `cid:` references from the HTML body. */
  readonly contentId?: string;
  readonly contentLocation?: string;
  readonly isInline?: boolean;
}

const IMPORTANCE_HEADER: Record<Importance, string> = { 0: 'low', 1: 'normal', 2: 'high' };

function mailbox(address: EmailAddress): { name: string; address: string } {
  return { name: address.name ?? '', address: address.address };
}

/**
 * Builds the RFC 5322 message of a draft with nodemailer's MailComposer (correct header encoding, line
 * folding and transfer encodings are its job), and the Email model fields that go with it. Bcc is kept in the
 * draft's MIME, as mail clients keep it until the message is sent.
 */
export async function composeDraft(fields: DraftFields, now = new Date()): Promise<EmailData> {
  const body = fields.body;
  const composer = new MailComposer({
    from: mailbox(fields.from),
    ...(fields.to?.length ? { to: fields.to.map(mailbox) } : {}),
    ...(fields.cc?.length ? { cc: fields.cc.map(mailbox) } : {}),
    ...(fields.bcc?.length ? { bcc: fields.bcc.map(mailbox) } : {}),
    subject: fields.subject ?? '',
    date: now,
    ...(body?.type === 'html' ? { html: body.data } : { text: body?.type === 'plain' ? body.data : '' }),
    ...(fields.importance !== undefined && fields.importance !== 1
      ? { priority: IMPORTANCE_HEADER[fields.importance] as 'low' | 'high' }
      : {}),
    ...(fields.attachments?.length ? { attachments: fields.attachments.map(composerAttachment) } : {}),
  });
  const node = composer.compile();
  node.keepBcc = true;
  const mime = await new Promise<Buffer>((resolve, reject) =>
    node.build((error, message) => (error ? reject(error) : resolve(message))),
  );
  const data: EmailData = {
    mime: new Uint8Array(mime.buffer, mime.byteOffset, mime.byteLength),
    from: fields.from,
    subject: fields.subject ?? '',
    dateReceived: now,
    read: true,
    messageClass: 'IPM.Note',
    isDraft: true,
    importance: fields.importance ?? 1,
  };
  if (fields.to?.length) {
    data.to = [...fields.to];
    data.displayTo = fields.to.map((address) => address.name || address.address).join('; ');
  }
  if (fields.cc?.length) data.cc = [...fields.cc];
  if (fields.bcc?.length) data.bcc = [...fields.bcc];
  return data;
}

function composerAttachment(attachment: DraftAttachment) {
  return {
    filename: attachment.displayName,
    content: Buffer.from(
      attachment.content.buffer,
      attachment.content.byteOffset,
      attachment.content.byteLength,
    ),
    contentType: attachment.contentType ?? 'application/octet-stream',
    contentDisposition: attachment.isInline ? ('inline' as const) : ('attachment' as const),
    ...(attachment.contentId ? { cid: attachment.contentId } : {}),
    ...(attachment.contentLocation ? { headers: { 'Content-Location': attachment.contentLocation } } : {}),
  };
}
