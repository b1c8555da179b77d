import {
  type AttachmentContent,
  type AttachmentInfo,
  attachmentBytes,
  attachmentInfos,
  htmlBody,
  parseMime,
  plainBody,
} from '@easkit/mailbox';
import type { EmailBodies } from './mailbox-rows.js';

/**
 * What the store derives from an Email's MIME, with the mailbox package's own MIME helpers, so bodies and
 * attachments come out exactly as the in-memory reference store derives them.
 */
export interface EmailContent extends EmailBodies {
  /** Attachment metadata without file references (the store derives those from the item id). */
  attachments: Array<Omit<AttachmentInfo, 'fileReference'>>;
}

/** Parses the MIME once: plain and HTML bodies, the native body type, attachment metadata. */
export async function deriveEmailContent(mime: Uint8Array): Promise<EmailContent> {
  const parsed = await parseMime(mime);
  return {
    plain: plainBody(parsed),
    html: htmlBody(parsed),
    nativeType: parsed.html !== undefined ? 'html' : 'plain',
    attachments: attachmentInfos(parsed, () => '').map(({ fileReference: _reference, ...rest }) => rest),
  };
}

/** The decoded bytes of the message's `index`-th attachment, or `undefined` when it has none there. */
export async function readAttachmentPart(
  mime: Uint8Array,
  index: number,
): Promise<AttachmentContent | undefined> {
  const parsed = await parseMime(mime);
  const part = parsed.attachments[index];
  if (!part) return undefined;
  const info = attachmentInfos(parsed, () => '')[index] as AttachmentInfo;
  return {
    contentType: part.mimeType,
    fileName: info.displayName,
    data: attachmentBytes(part.content).slice(),
  };
}
