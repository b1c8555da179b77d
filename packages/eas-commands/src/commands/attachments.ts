import { randomBytes } from 'node:crypto';
import {
  type AttachmentClientId,
  type AttachmentContent,
  type AttachmentInfo,
  type AttachmentMethod,
  type CalendarAttachment,
  type EmailData,
  type MailboxStore,
  NotFoundError,
  type UserId,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { MalformedItemError } from '../convert/types.js';
import type { DraftAttachment } from './drafts.js';

const { AirSyncBase: ASB } = eas;

// --- Reading: the one path GetAttachment and ItemOperations Fetch share ---------------------------------------

/**
 * The bytes of an attachment by its file reference, for this user only. Mail attachments come from the store
 * (`MailboxStore.readAttachment`, derived from the message's MIME); calendar attachments (16.x), which have no
 * MIME, are kept on the calendar item and named by a reference this module assigns ({@link calendarReference}).
 * @throws NotFoundError `attachment` for a reference that names nothing of this user (another user's included).
 */
export async function readAttachmentContent(
  mailbox: MailboxStore,
  user: UserId,
  fileReference: string,
): Promise<AttachmentContent> {
  if (fileReference === '') throw new NotFoundError('attachment', fileReference);
  const calendar = parseCalendarReference(fileReference);
  if (!calendar) return mailbox.readAttachment(user, fileReference);
  let item: Awaited<ReturnType<MailboxStore['getItem']>>;
  try {
    item = await mailbox.getItem(user, calendar.itemId);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError('attachment', fileReference);
    throw error;
  }
  const found =
    item.class === 'Calendar'
      ? item.data.attachments?.find((attachment) => attachment.fileReference === fileReference)
      : undefined;
  if (!found) throw new NotFoundError('attachment', fileReference);
  return {
    contentType: found.contentType ?? 'application/octet-stream',
    fileName: found.displayName,
    data: found.content,
  };
}

/**
 * File references of calendar attachments: `cal:<item id>:<random>`. The item id lets a read find the item
 * without an index; the random part keeps a reference from being reused after a delete. A calendar item that
 * is moved to another folder gets a new id, and its attachments' references then no longer resolve.
 */
const CALENDAR_PREFIX = 'cal:';

export function calendarReference(itemId: string): string {
  return `${CALENDAR_PREFIX}${itemId}:${randomBytes(6).toString('hex')}`;
}

function parseCalendarReference(reference: string): { itemId: string } | undefined {
  if (!reference.startsWith(CALENDAR_PREFIX)) return undefined;
  const rest = reference.slice(CALENDAR_PREFIX.length);
  const cut = rest.lastIndexOf(':');
  if (cut <= 0) return undefined;
  return { itemId: rest.slice(0, cut) };
}

// --- Writing: 16.x airsyncbase:Attachments in Sync Add and Change --------------------------------------------

/** One `airsyncbase:Add` of a 16.x Sync request (MS-ASAIRS 2.2.2.2). */
export interface AttachmentAdd {
  readonly clientId: string;
  readonly method: AttachmentMethod;
  readonly displayName: string;
  readonly content: Uint8Array;
  readonly contentType?: string;
  readonly contentId?: string;
  readonly contentLocation?: string;
  readonly isInline?: boolean;
}

/** What a device asked to change in an item's attachments: adds, and deletes by file reference. */
export interface AttachmentChanges {
  readonly adds: readonly AttachmentAdd[];
  readonly deletes: readonly string[];
}

/** A new attachment's ClientId and the FileReference the server gave it, for the Sync response. */
export interface AddedAttachment {
  readonly clientId: string;
  readonly fileReference: string;
}

/** At most this many attachment operations per item per request; more is a malformed item (Status 6). */
const MAX_OPERATIONS = 100;

/**
 * Reads the `airsyncbase:Attachments` of a client's ApplicationData (16.0+), or undefined when there is none.
 * @throws MalformedItemError for an Add without ClientId, DisplayName or Content, a Delete without
 * FileReference, a repeated ClientId, or an unknown Method.
 */
export function readAttachmentChanges(applicationData: WbxmlElement): AttachmentChanges | undefined {
  const container = applicationData.child('AirSyncBase:Attachments');
  if (!container) return undefined;
  const adds: AttachmentAdd[] = [];
  const deletes: string[] = [];
  if (container.children.length > MAX_OPERATIONS) {
    throw new MalformedItemError(`more than ${MAX_OPERATIONS} attachment operations`);
  }
  const clientIds = new Set<string>();
  for (const operation of container.children) {
    if (operation.qualifiedName === 'AirSyncBase:Delete') {
      const reference = operation.textOf('AirSyncBase:FileReference');
      if (!reference) throw new MalformedItemError('attachment Delete without FileReference');
      deletes.push(reference);
      continue;
    }
    if (operation.qualifiedName !== 'AirSyncBase:Add') {
      throw new MalformedItemError(`unexpected ${operation.qualifiedName} in Attachments`);
    }
    const clientId = operation.textOf('AirSyncBase:ClientId');
    const displayName = operation.textOf('AirSyncBase:DisplayName');
    const content = operation.bytesOf('AirSyncBase:Content');
    if (!clientId || clientIds.has(clientId)) {
      throw new MalformedItemError('attachment Add needs a ClientId unique within the item');
    }
    if (!displayName || content === undefined) {
      throw new MalformedItemError('attachment Add needs DisplayName and Content');
    }
    clientIds.add(clientId);
    let method: number;
    try {
      method = operation.intOf('AirSyncBase:Method') ?? 1;
    } catch {
      throw new MalformedItemError('attachment Method is not a number');
    }
    if (method !== 1 && method !== 5 && method !== 6) {
      throw new MalformedItemError(`attachment Method ${method} is not 1, 5 or 6`);
    }
    const contentType = operation.textOf('AirSyncBase:ContentType')?.trim();
    const contentId = operation.textOf('AirSyncBase:ContentId')?.trim().replace(/^<|>$/g, '');
    const contentLocation = operation.textOf('AirSyncBase:ContentLocation')?.trim();
    const add: { -readonly [K in keyof AttachmentAdd]: AttachmentAdd[K] } = {
      clientId,
      method,
      displayName,
      content,
    };
    if (contentType) add.contentType = contentType;
    if (contentId) add.contentId = contentId;
    if (contentLocation) add.contentLocation = contentLocation;
    if (operation.has('AirSyncBase:IsInline'))
      add.isInline = operation.boolOf('AirSyncBase:IsInline') === true;
    adds.push(add);
  }
  return { adds, deletes };
}

/**
 * A calendar item's attachments after the device's changes. Deletes of references the item does not hold are
 * ignored (a resent request deletes nothing twice); an Add whose ClientId the item already holds is not added
 * again, and answers with the reference it got the first time.
 */
export function changeCalendarAttachments(
  itemId: string,
  current: readonly CalendarAttachment[] | undefined,
  changes: AttachmentChanges,
): { attachments: CalendarAttachment[]; added: AddedAttachment[] } {
  const deleted = new Set(changes.deletes);
  const attachments = (current ?? []).filter((attachment) => !deleted.has(attachment.fileReference));
  const added: AddedAttachment[] = [];
  for (const add of changes.adds) {
    const earlier = attachments.find((attachment) => attachment.clientId === add.clientId);
    if (earlier) {
      added.push({ clientId: add.clientId, fileReference: earlier.fileReference });
      continue;
    }
    const attachment: CalendarAttachment = {
      fileReference: calendarReference(itemId),
      displayName: add.displayName,
      method: add.method,
      estimatedDataSize: add.content.byteLength,
      content: add.content,
      clientId: add.clientId,
    };
    if (add.contentType) attachment.contentType = add.contentType;
    if (add.contentId) attachment.contentId = add.contentId;
    if (add.contentLocation) attachment.contentLocation = add.contentLocation;
    if (add.isInline) attachment.isInline = true;
    attachments.push(attachment);
    added.push({ clientId: add.clientId, fileReference: attachment.fileReference });
  }
  return { attachments, added };
}

/**
 * Which stored attachment each added one became. A draft's attachments are derived by the store from the MIME
 * composed for it, so the new FileReferences are found by matching name, size and type against the composed
 * list, in order (identical attachments are interchangeable).
 */
export function matchAddedAttachments(
  stored: readonly AttachmentInfo[] | undefined,
  kept: readonly AttachmentInfo[],
  adds: readonly AttachmentAdd[],
): AddedAttachment[] {
  const free = [...(stored ?? [])];
  const take = (name: string, size: number): AttachmentInfo | undefined => {
    const index = free.findIndex(
      (candidate) => candidate.displayName === name && candidate.estimatedDataSize === size,
    );
    return index < 0 ? undefined : free.splice(index, 1)[0];
  };
  for (const attachment of kept) take(attachment.displayName, attachment.estimatedDataSize);
  const added: AddedAttachment[] = [];
  for (const add of adds) {
    const match = take(add.displayName, add.content.byteLength);
    if (match) added.push({ clientId: add.clientId, fileReference: match.fileReference });
  }
  return added;
}

/** The `ApplicationData` of a Sync response's Add or Change that added attachments (MS-ASAIRS 2.2.2.7). */
export function addedAttachmentsElement(added: readonly AddedAttachment[]): WbxmlElement {
  return eas.AirSync.ApplicationData(
    ASB.Attachments(
      added.map((attachment) =>
        ASB.Attachment(ASB.ClientId(attachment.clientId), ASB.FileReference(attachment.fileReference)),
      ),
    ),
  );
}

/** What composing a draft again needs, from {@link draftAttachmentsAfter}. */
export interface DraftAttachmentPlan {
  /** Every attachment of the new MIME, in order: the kept ones (bytes read back), then the new ones. */
  readonly attachments: DraftAttachment[];
  /** For {@link matchAddedAttachments}: the kept attachments no resent Add claims, and the Adds to answer. */
  readonly kept: AttachmentInfo[];
  readonly adds: AttachmentAdd[];
  /** The draft's `attachmentClientIds` after the change. */
  readonly clientIds: AttachmentClientId[];
}

/**
 * A draft's attachments after the device's changes, ready to compose its MIME again: the ones it keeps, with
 * their bytes read back from the store, then the added ones. Deletes of references the draft does not hold are
 * ignored; an Add whose ClientId the draft already records (a request resent after a lost response) is not
 * added again but answered with the attachment it added the first time.
 */
export async function draftAttachmentsAfter(
  mailbox: MailboxStore,
  user: UserId,
  current: Pick<EmailData, 'attachments' | 'attachmentClientIds'>,
  changes: AttachmentChanges | undefined,
): Promise<DraftAttachmentPlan> {
  const deleted = new Set(changes?.deletes ?? []);
  const kept = (current.attachments ?? []).filter((attachment) => !deleted.has(attachment.fileReference));
  const attachments: DraftAttachment[] = [];
  for (const info of kept) {
    const content = await mailbox.readAttachment(user, info.fileReference);
    attachments.push({
      displayName: info.displayName,
      content: content.data,
      contentType: info.method === 5 ? 'message/rfc822' : (info.contentType ?? content.contentType),
      ...(info.contentId ? { contentId: info.contentId } : {}),
      ...(info.contentLocation ? { contentLocation: info.contentLocation } : {}),
      ...(info.isInline ? { isInline: true } : {}),
    });
  }
  // Recorded ClientIds stay while an attachment of that name and size is kept.
  const unclaimed = [...kept];
  const claim = (name: string, size: number): AttachmentInfo | undefined => {
    const index = unclaimed.findIndex((a) => a.displayName === name && a.estimatedDataSize === size);
    return index < 0 ? undefined : unclaimed.splice(index, 1)[0];
  };
  const clientIds: AttachmentClientId[] = [];
  for (const entry of current.attachmentClientIds ?? []) {
    if (claim(entry.displayName, entry.estimatedDataSize)) clientIds.push(entry);
  }
  const adds: AttachmentAdd[] = [];
  const fresh: AttachmentAdd[] = [];
  for (const add of changes?.adds ?? []) {
    adds.push(add);
    if (clientIds.some((entry) => entry.clientId === add.clientId)) continue;
    fresh.push(add);
    clientIds.push({
      clientId: add.clientId,
      displayName: add.displayName,
      estimatedDataSize: add.content.byteLength,
    });
  }
  attachments.push(...fresh);
  // A resent Add answers with the kept attachment it names, so that one leaves the "kept" side of the match.
  const answered = new Set(adds.filter((add) => !fresh.includes(add)).map((add) => add.clientId));
  const keptForMatch = [...kept];
  for (const entry of clientIds) {
    if (!answered.has(entry.clientId)) continue;
    const index = keptForMatch.findIndex(
      (a) => a.displayName === entry.displayName && a.estimatedDataSize === entry.estimatedDataSize,
    );
    if (index >= 0) keptForMatch.splice(index, 1);
  }
  return { attachments, kept: keptForMatch, adds, clientIds };
}
