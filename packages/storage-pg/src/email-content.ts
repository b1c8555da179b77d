import {
  type AttachmentContent,
  type AttachmentInfo,
  FolderType,
  MemoryMailboxStore,
  ROOT_FOLDER_ID,
} from '@easkit/mailbox';
import type { EmailBodies } from './mailbox-rows.js';

/**
 * What the store derives from an Email's MIME, exactly as the in-memory reference store derives it.
 *
 * `@easkit/mailbox` keeps its MIME parsing (postal-mime, the plain/HTML fallbacks, attachment metadata)
 * internal and exports only `htmlToText`, `textToHtml` and `truncateUtf8`. Rather than parse MIME a second way,
 * each derivation runs the message through a throwaway `MemoryMailboxStore`, which is the contract's reference
 * for bodies and attachments. A store per call keeps nothing between calls. When the mailbox package exports
 * its parse helpers, this file becomes a thin wrapper over them.
 */

const SCRATCH_USER = 'scratch';

export interface EmailContent extends EmailBodies {
  /** Attachment metadata without file references (the store derives those from the item id). */
  attachments: Array<Omit<AttachmentInfo, 'fileReference'>>;
}

async function scratchMessage(mime: Uint8Array) {
  const store = new MemoryMailboxStore();
  await store.createUser({ id: SCRATCH_USER, primarySmtpAddress: 'scratch@invalid' });
  const inbox = await store.createFolder(SCRATCH_USER, {
    parentId: ROOT_FOLDER_ID,
    displayName: 'Inbox',
    type: FolderType.Inbox,
  });
  const item = await store.createItem(SCRATCH_USER, inbox.id, {
    class: 'Email',
    data: { mime, dateReceived: new Date(0), read: false, messageClass: 'IPM.Note' },
  });
  return { store, item };
}

/** Parses the MIME once: plain and HTML bodies, the native body type, attachment metadata. */
export async function deriveEmailContent(mime: Uint8Array): Promise<EmailContent> {
  const { store, item } = await scratchMessage(mime);
  const plain = await store.readBody(SCRATCH_USER, item.id, { type: 'plain' });
  const html = await store.readBody(SCRATCH_USER, item.id, { type: 'html' });
  const attachments = item.class === 'Email' ? (item.data.attachments ?? []) : [];
  return {
    plain: plain.data as string,
    html: html.data as string,
    nativeType: plain.nativeType === 'html' ? 'html' : 'plain',
    attachments: attachments.map(({ fileReference: _reference, ...rest }) => rest),
  };
}

/** The decoded bytes of the message's `index`-th attachment, or `undefined` when it has none there. */
export async function readAttachmentPart(
  mime: Uint8Array,
  index: number,
): Promise<AttachmentContent | undefined> {
  const { store, item } = await scratchMessage(mime);
  const info = item.class === 'Email' ? item.data.attachments?.[index] : undefined;
  if (!info) return undefined;
  return store.readAttachment(SCRATCH_USER, info.fileReference);
}
