import {
  type AttachmentInfo,
  type Folder,
  type FolderType,
  InvalidArgumentError,
  type ItemClass,
  ROOT_FOLDER_ID,
  type StoredItem,
  type User,
} from '@easkit/mailbox';

/**
 * How MailboxStore values become rows and rows become values again: ids, the lossless JSON encoding of class
 * data kept in `data jsonb`, and the projection columns written beside it.
 */

// Ids ---------------------------------------------------------------------------------------------------------

const FOLDER_ID = /^f([1-9][0-9]{0,17})$/;
const ITEM_ID = /^i([1-9][0-9]{0,17})$/;

/** The bigint key (as decimal text) of a folder id, or `undefined` when no folder can have this id. */
export function folderKey(id: unknown): string | undefined {
  return typeof id === 'string' ? FOLDER_ID.exec(id)?.[1] : undefined;
}

/** The bigint key (as decimal text) of an item id, or `undefined` when no item can have this id. */
export function itemKey(id: unknown): string | undefined {
  return typeof id === 'string' ? ITEM_ID.exec(id)?.[1] : undefined;
}

export const folderId = (key: string | number): string => `f${key}`;
export const itemId = (key: string | number): string => `i${key}`;

/** An attachment's file reference: the item id and the attachment's position, so a move renames it. */
export function fileReference(item: string, index: number): string {
  return `${item}:${index}`;
}

/** The item key and attachment index of a file reference, or `undefined` when it cannot name one. */
export function parseFileReference(reference: unknown): { key: string; index: number } | undefined {
  if (typeof reference !== 'string') return undefined;
  const match = /^i([1-9][0-9]{0,17}):(0|[1-9][0-9]{0,5})$/.exec(reference);
  return match ? { key: match[1] as string, index: Number(match[2]) } : undefined;
}

// Text ----------------------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether PostgreSQL `text` holds this string exactly: it cannot hold NUL, and a lone UTF-16 surrogate has no
 * UTF-8 form (the driver would send U+FFFD instead).
 */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0') && !LONE_SURROGATE.test(value);
}

/** A string as a projection column holds it: NUL and lone surrogates become U+FFFD. */
export function projectText(value: string): string {
  if (isStorableText(value)) return value;
  const text: string = value;
  return text.replaceAll('\0', '\uFFFD').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

// The JSON encoding of class data ---------------------------------------------------------------------------------

/**
 * Class data goes into `jsonb` losslessly. Plain JSON values stay as they are; what JSON or `jsonb` cannot
 * carry becomes a one-key object with a `$` tag:
 * - `{"$date": ms}` a Date (`null` for an invalid Date);
 * - `{"$bytes": base64}` a Uint8Array;
 * - `{"$str": json}` a string `jsonb` refuses (NUL, which `jsonb` cannot store, or a lone surrogate), as the
 *   JSON text of the string, which holds only escapes;
 * - `{"$num": "NaN" | "Infinity" | "-Infinity" | "-0"}` numbers JSON has no form for;
 * - `{"$undefined": true}` a key or array slot holding `undefined` (the store keeps what it is given).
 * Object keys must be storable text. The models have no keys that start with `$`, so tags cannot collide.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function encodeJson(value: unknown): Json {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
      return isStorableText(value) ? value : { $str: JSON.stringify(value) };
    case 'boolean':
      return value;
    case 'number':
      if (Object.is(value, -0)) return { $num: '-0' };
      return Number.isFinite(value) ? value : { $num: String(value) };
    case 'undefined':
      return { $undefined: true };
    case 'object': {
      if (value instanceof Date) {
        const ms = value.getTime();
        return { $date: Number.isNaN(ms) ? null : ms };
      }
      if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
      if (Array.isArray(value)) return value.map(encodeJson);
      const out: { [key: string]: Json } = {};
      for (const [key, field] of Object.entries(value)) {
        if (!isStorableText(key))
          throw malformed(`a field name the store cannot keep: ${JSON.stringify(key)}`);
        out[key] = encodeJson(field);
      }
      return out;
    }
    default:
      throw malformed(`a ${typeof value} cannot be stored`);
  }
}

const TAGS = new Set(['$date', '$bytes', '$str', '$num', '$undefined']);

export function decodeJson(json: Json): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return json.map(decodeJson);
  const keys = Object.keys(json);
  if (keys.length === 1 && TAGS.has(keys[0] as string)) {
    const tag = keys[0] as string;
    const inner = json[tag];
    switch (tag) {
      case '$date':
        return new Date(typeof inner === 'number' ? inner : Number.NaN);
      case '$bytes':
        return new Uint8Array(Buffer.from(String(inner), 'base64'));
      case '$str':
        return JSON.parse(String(inner));
      case '$num':
        return inner === '-0' ? -0 : Number(inner);
      default:
        return undefined;
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = decodeJson(json[key] as Json);
  return out;
}

// Rows -> values ------------------------------------------------------------------------------------------------

export interface UserRow {
  id: string;
  primary_address: string;
  aliases: string[];
  display_name: string | null;
}

export function userFromRow(row: UserRow): User {
  const user: User = { id: row.id, primarySmtpAddress: row.primary_address, aliases: [...row.aliases] };
  if (row.display_name !== null) user.displayName = row.display_name;
  return user;
}

export interface FolderRow {
  id: string;
  parent_id: string | null;
  display_name: string;
  type: number;
}

export function folderFromRow(row: FolderRow): Folder {
  return {
    id: folderId(row.id),
    parentId: row.parent_id === null ? ROOT_FOLDER_ID : folderId(row.parent_id),
    displayName: row.display_name,
    type: Number(row.type) as FolderType,
  };
}

/** Columns every item query selects (`mime` only where the caller needs the whole item). */
export interface ItemRow {
  id: string;
  folder_id: string;
  class: ItemClass;
  modseq: string | number;
  data: Json;
  mime?: Uint8Array | string | null;
}

/**
 * A plain Uint8Array copy of a driver's bytes (pg gives Buffers, which compare unlike Uint8Arrays), or of
 * base64 text (how the store reads bytea on PGlite).
 */
export function plainBytes(bytes: Uint8Array | string): Uint8Array {
  return new Uint8Array(typeof bytes === 'string' ? Buffer.from(bytes, 'base64') : bytes);
}

/** The StoredItem of a row: decoded data, the MIME put back, attachment references derived from the id. */
export function itemFromRow(row: ItemRow): StoredItem {
  const id = itemId(row.id);
  const data = decodeJson(row.data) as Record<string, unknown>;
  if (row.class === 'Email') {
    if (row.mime) data.mime = plainBytes(row.mime);
    if (Array.isArray(data.attachments)) data.attachments = withReferences(id, data.attachments);
  }
  return {
    id,
    folderId: folderId(row.folder_id),
    modseq: Number(row.modseq),
    class: row.class,
    data,
  } as StoredItem;
}

type StoredAttachment = Omit<AttachmentInfo, 'fileReference'>;

function withReferences(item: string, attachments: StoredAttachment[]): AttachmentInfo[] {
  return attachments.map((attachment, index) => ({
    fileReference: fileReference(item, index),
    ...attachment,
  }));
}

// Values -> columns ---------------------------------------------------------------------------------------------

/** The body of an Email as the store keeps it beside the MIME. */
export interface EmailBodies {
  plain: string;
  html: string;
  nativeType: 'plain' | 'html';
}

/** The item columns written on every write, in the order of {@link ITEM_COLUMNS}. */
export interface ItemColumns {
  data: string;
  subject: string | null;
  receivedAt: string | null;
  read: boolean | null;
  flagStatus: number | null;
  messageClass: string | null;
  windowEndMs: string | null;
  complete: boolean | null;
}

/** The SQL names of {@link ItemColumns}, in order. */
export const ITEM_COLUMNS = [
  'data',
  'subject',
  'received_at',
  'read',
  'flag_status',
  'message_class',
  'window_end_ms',
  'complete',
] as const;

export function columnValues(columns: ItemColumns): unknown[] {
  return [
    columns.data,
    columns.subject,
    columns.receivedAt,
    columns.read,
    columns.flagStatus,
    columns.messageClass,
    columns.windowEndMs,
    columns.complete,
  ];
}

/** Below every instant a Date can hold: an invalid recurrence end never matches a `since` filter. */
const NEVER_MS = '-8640000000000001';

/**
 * The columns of an item's data. `data` must not hold `mime` (it goes into its own column) and holds Email
 * attachments without their file references (derived from the id when read).
 */
export function itemColumns(itemClass: ItemClass, data: Record<string, unknown>): ItemColumns {
  const subject = typeof data.subject === 'string' ? projectText(data.subject) : null;
  const columns: ItemColumns = {
    data: JSON.stringify(encodeJson(data)),
    subject,
    receivedAt: null,
    read: null,
    flagStatus: null,
    messageClass: null,
    windowEndMs: null,
    complete: null,
  };
  switch (itemClass) {
    case 'Email': {
      const received = data.dateReceived as Date;
      columns.receivedAt = timestampText(received);
      columns.windowEndMs = msText(received);
      columns.read = data.read as boolean;
      const flag = data.flag as { status?: unknown } | undefined;
      columns.flagStatus = typeof flag?.status === 'number' ? flag.status : null;
      columns.messageClass = projectText(data.messageClass as string);
      break;
    }
    case 'Calendar': {
      const recurrence = data.recurrence as { until?: Date } | undefined;
      if (recurrence) columns.windowEndMs = recurrence.until === undefined ? null : msText(recurrence.until);
      else columns.windowEndMs = msText(data.endTime as Date);
      break;
    }
    case 'Tasks':
      columns.complete = data.complete as boolean;
      break;
    default:
      break;
  }
  return columns;
}

function msText(date: Date): string {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  return Number.isNaN(ms) ? NEVER_MS : String(ms);
}

/** An ISO timestamp for a `timestamptz` projection, or null when PostgreSQL cannot parse the year. */
function timestampText(date: Date): string | null {
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date.toISOString() : null;
}

/** @throws InvalidArgumentError `malformed` unless `modseq` is a non-negative integer. */
export function checkModseq(modseq: unknown): void {
  if (typeof modseq !== 'number' || !Number.isInteger(modseq) || modseq < 0) {
    throw malformed('modseq must be a non-negative integer');
  }
}

export function malformed(message: string): InvalidArgumentError {
  return new InvalidArgumentError('malformed', message);
}
