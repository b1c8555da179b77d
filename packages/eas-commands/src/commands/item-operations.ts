import {
  type AttachmentContent,
  type Folder,
  FolderType,
  folderClass,
  InvalidArgumentError,
  type ItemId,
  NotFoundError,
  type StoredItem,
  type UserId,
} from '@easkit/mailbox';
import { eas, encode, type WbxmlElement } from '@easkit/wbxml';
import { CONVERTERS } from '../convert/index.js';
import type { ConvertContext, ItemConverter } from '../convert/types.js';
import type { EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast, type ProtocolVersion } from '../http/protocol-version.js';
import { readAttachmentContent } from './attachments.js';
import type { EasServices } from './services.js';
import { contentOptions, InvalidOptionsError, readSyncOptions, type SyncOptions } from './sync-options.js';

const { ItemOperations: IO, AirSync: AS, AirSyncBase: ASB, Search: SR, DocumentLibrary: DL } = eas;

/**
 * ItemOperations statuses (MS-ASCMD 2.2.3.177.8), plus the common status 105 that MS-ASCON names for a
 * conversation Move into the recipient information cache.
 */
export const ItemOperationsStatus = {
  Success: 1,
  /** The request or one operation breaks the protocol (missing or malformed elements). */
  ProtocolError: 2,
  /** Something failed on the server; the operation may succeed later. */
  ServerError: 3,
  /** A document library link (`LinkId`): this server has no document library access. */
  DocumentLibraryBadUri: 4,
  DocumentLibraryAccessDenied: 5,
  /** The item, folder or conversation does not exist for this user. */
  ObjectNotFound: 6,
  DocumentLibraryConnectionFailed: 7,
  /** `Range` is malformed, reversed, or starts past the end of the data. */
  InvalidByteRange: 8,
  /** `Store` names something other than `Mailbox`. */
  UnknownStore: 9,
  EmptyFile: 10,
  DataTooLarge: 11,
  IoFailure: 12,
  /** The item could not be converted to EAS form. */
  ConversionFailed: 14,
  /** The `FileReference` names no attachment of this user. */
  InvalidAttachment: 15,
  AccessDenied: 16,
  /** EmptyFolderContents: the items are gone, but a special subfolder could not be deleted. */
  PartialSuccess: 17,
  CredentialsRequired: 18,
  /** A conversation Move without `MoveAlways` (MS-ASCMD 2.2.3.118). */
  MoveAlwaysMissing: 155,
  /** A conversation Move to a folder that does not hold mail (MS-ASCON 2.2.2.10). */
  ActionNotSupported: 156,
  /** A conversation Move into the recipient information cache (MS-ASCON 2.2.2.10). */
  InvalidCombinationOfIds: 105,
} as const;

/** Content type of a multipart ItemOperations response (MS-ASCMD 2.2.1.10.1). */
export const MULTIPART_CONTENT_TYPE = 'application/vnd.ms-sync.multipart';

export interface ItemOperationsOptions {
  /**
   * Called when an operation failed for a reason that is not the client's: it was answered with Status 3
   * (server error) or 14 (conversion failure) and the other operations of the request went on.
   */
  readonly onError?: (info: {
    user: UserId;
    operation: 'Fetch' | 'EmptyFolderContents' | 'Move';
    error: unknown;
  }) => void;
}

/** Items are read in pages of this size when a folder is emptied or searched for a conversation. */
const PAGE = 500;

type Operation = 'Fetch' | 'EmptyFolderContents' | 'Move';

/**
 * ItemOperations (MS-ASCMD 2.2.1.10, 12.0+): Fetch of mailbox items (by `airsync:ServerId`, or by
 * `search:LongId`, which is read as a ServerId until Search exists), and of attachments by
 * `airsyncbase:FileReference` with an optional byte `Range`; EmptyFolderContents with `DeleteSubFolders`;
 * and, from 14.0, Move of a whole conversation. Operations run in request order, each with its own Status.
 *
 * With `MS-ASAcceptMultiPart: T` (or the base64 query's AcceptMultiPart flag) the answer is a multipart body:
 * the WBXML response first, then one binary part per fetched body or attachment, each referenced by an
 * `itemoperations:Part` index where `Data` would otherwise be.
 *
 * Not supported, and answered with the spec's status: document libraries (`LinkId`: 4; a `Store` other than
 * `Mailbox`: 9). `MoveAlways` moves the conversation's current messages only; this server keeps no rule for
 * messages that arrive later. `Schema` is honoured for mailbox items by keeping only the listed top-level
 * properties. Moves and deletions are not remembered as the device's own: its next Sync reports them.
 */
export function itemOperationsCommand(
  services: EasServices,
  options: ItemOperationsOptions = {},
): EasCommandHandler {
  return async ({ identity, head, body }): Promise<EasCommandResult> => {
    const user = identity.userId;
    const version = head.protocolVersion;
    const multipart = head.acceptMultiPart;
    if (body?.name !== 'ItemOperations' || body.children.length === 0) {
      return { kind: 'wbxml', body: IO.ItemOperations(IO.Status(ItemOperationsStatus.ProtocolError)) };
    }
    const operations = body.children;
    if (operations.some((operation) => !isOperation(operation))) {
      return { kind: 'wbxml', body: IO.ItemOperations(IO.Status(ItemOperationsStatus.ProtocolError)) };
    }

    // Part 0 is the WBXML document; data parts follow from index 1.
    const parts: Uint8Array[] = [];
    const addPart = (bytes: Uint8Array): number => parts.push(bytes);
    const responses: WbxmlElement[] = [];
    for (const operation of operations) {
      const name = operation.name as Operation;
      try {
        if (name === 'Fetch') responses.push(await fetch(operation));
        else if (name === 'EmptyFolderContents') responses.push(await emptyFolder(operation));
        else responses.push(await moveConversation(operation));
      } catch (error) {
        options.onError?.({ user, operation: name, error });
        responses.push(failedOperation(operation, ItemOperationsStatus.ServerError));
      }
    }
    const document = IO.ItemOperations(IO.Status(ItemOperationsStatus.Success), IO.Response(responses));
    if (!multipart) return { kind: 'wbxml', body: document };
    return {
      kind: 'raw',
      contentType: MULTIPART_CONTENT_TYPE,
      body: encodeMultiPart([encode(document), ...parts]),
    };

    async function fetch(operation: WbxmlElement): Promise<WbxmlElement> {
      const store = operation.textOf('Store');
      const collectionId = operation.textOf('AirSync:CollectionId');
      const serverId = operation.textOf('AirSync:ServerId');
      const longId = operation.textOf('Search:LongId');
      const fileReference = operation.textOf('AirSyncBase:FileReference');
      const linkId = operation.textOf('DocumentLibrary:LinkId');
      // The response names the fetched object the way the request did (MS-ASCMD 2.2.3.67.1).
      const answer = (status: number, itemClass?: string, properties?: readonly WbxmlElement[]) =>
        IO.Fetch(
          IO.Status(status),
          collectionId === undefined ? null : AS.CollectionId(collectionId),
          serverId === undefined ? null : AS.ServerId(serverId),
          longId === undefined ? null : SR.LongId(longId),
          fileReference === undefined ? null : ASB.FileReference(fileReference),
          linkId === undefined ? null : DL.LinkId(linkId),
          itemClass === undefined ? null : AS.Class(itemClass),
          properties === undefined ? null : IO.Properties(properties),
        );

      if (linkId !== undefined) return answer(ItemOperationsStatus.DocumentLibraryBadUri);
      if (store === undefined) return answer(ItemOperationsStatus.ProtocolError);
      if (store.trim().toLowerCase() !== 'mailbox') return answer(ItemOperationsStatus.UnknownStore);
      const targets = [serverId, longId, fileReference].filter((target) => target !== undefined);
      if (targets.length !== 1) return answer(ItemOperationsStatus.ProtocolError);

      const fetchOptions = operation.child('ItemOperations:Options');
      if (fileReference !== undefined) {
        // With a FileReference, Range is the only option that applies (MS-ASCMD 2.2.3.143.2).
        return fetchAttachment(fileReference, fetchOptions?.textOf('ItemOperations:Range'), answer);
      }

      let syncOptions: SyncOptions;
      try {
        syncOptions = readSyncOptions(fetchOptions, undefined, undefined);
      } catch (error) {
        if (error instanceof InvalidOptionsError) return answer(ItemOperationsStatus.ProtocolError);
        throw error;
      }
      // rm:RightsManagementSupport exists from 14.1; an older request cannot opt in.
      if (!atLeast(version, '14.1')) syncOptions.rightsManagementSupport = false;

      const item = await findItem((serverId ?? longId)!);
      if (!item || (collectionId !== undefined && item.folderId !== collectionId)) {
        return answer(ItemOperationsStatus.ObjectNotFound);
      }
      let properties: WbxmlElement[];
      try {
        properties = await render(item, syncOptions, version);
      } catch (error) {
        if (error instanceof NotFoundError) return answer(ItemOperationsStatus.ObjectNotFound);
        options.onError?.({ user, operation: 'Fetch', error });
        return answer(ItemOperationsStatus.ConversionFailed);
      }
      const schema = fetchOptions?.child('ItemOperations:Schema');
      if (schema && schema.children.length > 0) {
        const wanted = new Set(schema.children.map((child) => child.qualifiedName));
        properties = properties.filter((property) => wanted.has(property.qualifiedName));
      }
      if (multipart) properties = properties.map((property) => bodyAsPart(property, addPart));
      return answer(ItemOperationsStatus.Success, item.class, properties);
    }

    async function fetchAttachment(
      fileReference: string,
      range: string | undefined,
      answer: (status: number, itemClass?: string, properties?: readonly WbxmlElement[]) => WbxmlElement,
    ): Promise<WbxmlElement> {
      let content: AttachmentContent;
      try {
        content = await readAttachmentContent(services.mailbox, user, fileReference);
      } catch (error) {
        if (error instanceof NotFoundError) return answer(ItemOperationsStatus.InvalidAttachment);
        throw error;
      }
      const total = content.data.byteLength;
      let bytes = content.data;
      let rangeElements: WbxmlElement[] = [];
      if (range !== undefined) {
        const parsed = parseByteRange(range, total);
        if (!parsed) return answer(ItemOperationsStatus.InvalidByteRange);
        bytes = content.data.subarray(parsed.start, parsed.end + 1);
        // The answer says which bytes it holds: a range past the end is cut to the data (best effort).
        rangeElements = [IO.Range(`${parsed.start}-${parsed.end}`), IO.Total(total)];
      }
      return answer(ItemOperationsStatus.Success, undefined, [
        ASB.ContentType(content.contentType),
        ...rangeElements,
        multipart ? IO.Part(addPart(bytes)) : IO.Data(Buffer.from(bytes).toString('base64')),
      ]);
    }

    async function findItem(itemId: ItemId): Promise<StoredItem | undefined> {
      try {
        return await services.mailbox.getItem(user, itemId);
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    }

    async function render(
      item: StoredItem,
      syncOptions: SyncOptions,
      protocolVersion: ProtocolVersion,
    ): Promise<WbxmlElement[]> {
      const converter = CONVERTERS[item.class] as ItemConverter;
      const context: ConvertContext = {
        version: protocolVersion,
        options: contentOptions(syncOptions),
        readBody: (type, truncateBytes) =>
          services.mailbox.readBody(user, item.id, {
            type,
            ...(truncateBytes === undefined ? {} : { truncateBytes }),
          }),
      };
      return converter.toApplicationData(item as never, context);
    }

    async function emptyFolder(operation: WbxmlElement): Promise<WbxmlElement> {
      const collectionId = operation.textOf('AirSync:CollectionId');
      const answer = (status: number) =>
        IO.EmptyFolderContents(
          IO.Status(status),
          collectionId === undefined ? null : AS.CollectionId(collectionId),
        );
      if (!collectionId) return answer(ItemOperationsStatus.ProtocolError);
      const folder = await findFolder(collectionId);
      if (!folder) return answer(ItemOperationsStatus.ObjectNotFound);
      const deleteSubFolders =
        operation.child('ItemOperations:Options')?.boolOf('ItemOperations:DeleteSubFolders') === true;

      for (const item of await itemsOf(folder.id)) {
        try {
          await services.mailbox.deleteItem(user, item.id);
        } catch (error) {
          // Deleted meanwhile (another device): the folder is empty of it either way.
          if (!(error instanceof NotFoundError)) throw error;
        }
      }
      let status: number = ItemOperationsStatus.Success;
      if (deleteSubFolders) {
        const children = (await services.mailbox.listFolders(user)).filter(
          (candidate) => candidate.parentId === folder.id,
        );
        for (const child of children) {
          try {
            await services.mailbox.deleteFolder(user, child.id);
          } catch (error) {
            if (error instanceof NotFoundError) continue;
            // A default folder is never deleted (the mailbox's special-folder rule); the rest still goes.
            if (error instanceof InvalidArgumentError && error.reason === 'special-folder') {
              status = ItemOperationsStatus.PartialSuccess;
              continue;
            }
            throw error;
          }
        }
      }
      return answer(status);
    }

    async function moveConversation(operation: WbxmlElement): Promise<WbxmlElement> {
      const idElement = operation.child('ItemOperations:ConversationId');
      const destinationId = operation.textOf('ItemOperations:DstFldId');
      const answer = (status: number) =>
        IO.Move(
          IO.Status(status),
          idElement ? IO.ConversationId(idElement.bytes ?? idElement.text ?? '') : null,
        );
      // Move exists from 14.0 (MS-ASCMD 2.2.3.117.1).
      if (!atLeast(version, '14.0')) return answer(ItemOperationsStatus.ProtocolError);
      const conversationId = operation.bytesOf('ItemOperations:ConversationId');
      if (!conversationId || conversationId.byteLength === 0 || !destinationId) {
        return answer(ItemOperationsStatus.ProtocolError);
      }
      if (!operation.child('ItemOperations:Options')?.has('ItemOperations:MoveAlways')) {
        return answer(ItemOperationsStatus.MoveAlwaysMissing);
      }
      const destination = await findFolder(destinationId);
      if (!destination) return answer(ItemOperationsStatus.ObjectNotFound);
      if (destination.type === FolderType.RecipientInformationCache) {
        return answer(ItemOperationsStatus.InvalidCombinationOfIds);
      }
      if (folderClass(destination.type) !== 'Email') return answer(ItemOperationsStatus.ActionNotSupported);

      // Every message of the conversation in the user's mail folders, except Sent Items (MS-ASCON 2.2.2.8).
      const folders = (await services.mailbox.listFolders(user)).filter(
        (folder) => folderClass(folder.type) === 'Email' && folder.type !== FolderType.SentItems,
      );
      let found = 0;
      for (const folder of folders) {
        for (const item of await itemsOf(folder.id)) {
          if (item.class !== 'Email' || !sameBytes(item.data.conversationId, conversationId)) continue;
          found++;
          if (folder.id === destination.id) continue;
          try {
            await services.mailbox.moveItem(user, item.id, destination.id);
          } catch (error) {
            if (!(error instanceof NotFoundError)) throw error;
          }
        }
      }
      return answer(found > 0 ? ItemOperationsStatus.Success : ItemOperationsStatus.ObjectNotFound);
    }

    async function findFolder(folderId: string): Promise<Folder | undefined> {
      try {
        return await services.mailbox.getFolder(user, folderId);
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    }

    /** The items in a folder now: the adds of its change log since the beginning. */
    async function itemsOf(folderId: string): Promise<StoredItem[]> {
      const items: StoredItem[] = [];
      let since = 0;
      for (;;) {
        const page = await services.mailbox.changes(user, folderId, since, PAGE);
        for (const change of page.changes) if (change.kind !== 'delete') items.push(change.item);
        since = page.nextModseq;
        if (!page.more) return items;
      }
    }
  };
}

function isOperation(element: WbxmlElement): boolean {
  return (
    element.namespace === 'ItemOperations' &&
    (element.name === 'Fetch' || element.name === 'EmptyFolderContents' || element.name === 'Move')
  );
}

/** The answer for an operation that failed before it could say more than its status. */
function failedOperation(operation: WbxmlElement, status: number): WbxmlElement {
  switch (operation.name) {
    case 'Fetch':
      return IO.Fetch(
        IO.Status(status),
        operation.children.filter((child) =>
          ['AirSync:CollectionId', 'AirSync:ServerId', 'Search:LongId', 'AirSyncBase:FileReference'].includes(
            child.qualifiedName,
          ),
        ),
      );
    case 'EmptyFolderContents':
      return IO.EmptyFolderContents(IO.Status(status), operation.child('AirSync:CollectionId') ?? null);
    default:
      return IO.Move(IO.Status(status), operation.child('ItemOperations:ConversationId') ?? null);
  }
}

/**
 * A byte range `m-n` (zero-based, inclusive) over data of `total` bytes, cut to the data; undefined when it is
 * malformed, reversed or starts at or past the end.
 */
export function parseByteRange(text: string, total: number): { start: number; end: number } | undefined {
  const match = /^\s*(\d{1,15})-(\d{1,15})\s*$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end || start >= total) return undefined;
  return { start, end: Math.min(end, total - 1) };
}

/** In a multipart response, a body's `Data` moves to its own part and `itemoperations:Part` points at it. */
function bodyAsPart(property: WbxmlElement, addPart: (bytes: Uint8Array) => number): WbxmlElement {
  if (property.qualifiedName !== 'AirSyncBase:Body') return property;
  const data = property.child('AirSyncBase:Data');
  if (!data) return property;
  const bytes = data.bytes ?? new TextEncoder().encode(data.text ?? '');
  return ASB.Body(property.children.map((child) => (child === data ? IO.Part(addPart(bytes)) : child)));
}

/**
 * The body of a multipart response (MS-ASCMD 2.2.1.10.1.1): the part count, an offset and length per part
 * (offsets from the start of the body), then the parts; every integer is 32-bit little-endian.
 */
export function encodeMultiPart(parts: readonly Uint8Array[]): Uint8Array {
  const headerSize = 4 + 8 * parts.length;
  const size = parts.reduce((sum, part) => sum + part.byteLength, headerSize);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, parts.length, true);
  let offset = headerSize;
  parts.forEach((part, index) => {
    view.setInt32(4 + 8 * index, offset, true);
    view.setInt32(8 + 8 * index, part.byteLength, true);
    out.set(part, offset);
    offset += part.byteLength;
  });
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.byteLength) return false;
  for (let index = 0; index < a.byteLength; index++) if (a[index] !== b[index]) return false;
  return true;
}
