import type { BodyContent, ItemClass, ItemDataByClass, StoredBody, StoredItem } from '@easkit/mailbox';
import type { ProtocolVersion, WbxmlElement } from '@easkit/wbxml';

/**
 * One `airsyncbase:BodyPreference` (12.0+) of a Sync, ItemOperations or Search request. Type 1 plain text,
 * 2 HTML, 3 RTF, 4 MIME.
 */
export interface BodyPreference {
  readonly type: 1 | 2 | 3 | 4;
  /** Bytes; absent means the whole body. */
  readonly truncationSize?: number;
  /** With truncationSize: send the body only when it fits whole; otherwise send no data (estimated size only). */
  readonly allOrNone?: boolean;
  /** 14.0+: characters of plain-text preview to add (0-255). */
  readonly preview?: number;
}

/** How the device asked for item content (the collection's Options, or an ItemOperations Fetch's). */
export interface ContentOptions {
  /** 12.0+ body preferences, in the device's order of preference. */
  readonly bodyPreferences: readonly BodyPreference[];
  /** 14.1+ `BodyPartPreference`: Email answers with an `airsyncbase:BodyPart` holding the HTML body. */
  readonly bodyPartPreferences?: readonly BodyPreference[];
  /** `MIMESupport`: 0 never MIME, 1 MIME for S/MIME messages only, 2 MIME for all messages. */
  readonly mimeSupport: 0 | 1 | 2;
  /** 2.5: `MIMETruncation` in bytes (already mapped from the EAS code), when MIME is sent. */
  readonly mimeTruncation?: number;
  /** 2.5: `Truncation` of the plain body in bytes (already mapped from the EAS code); absent = whole body. */
  readonly truncation?: number;
  /** 14.1+: the device handles Information Rights Management; converters may ignore it. */
  readonly rightsManagementSupport?: boolean;
}

/** What a converter may read beyond the item itself. */
export interface ConvertContext {
  readonly version: ProtocolVersion;
  readonly options: ContentOptions;
  /** Reads the item's body in one form (the mailbox's `readBody`, bound to the user and item). */
  readBody(type: 'plain' | 'html' | 'mime' | 'rtf', truncateBytes?: number): Promise<BodyContent>;
}

/**
 * What a client sent in one `ApplicationData`: the fields it carried, as the model names them. `present` lists
 * the model fields (top-level keys of the class's data) the element carried, so the Sync command can tell "set
 * to empty" from "not sent" (ghosting, MS-ASCMD `Supported`).
 */
export interface ParsedApplicationData<C extends ItemClass = ItemClass> {
  readonly class: C;
  readonly data: Partial<ItemDataByClass[C]>;
  readonly present: ReadonlySet<keyof ItemDataByClass[C] & string>;
  /**
   * Email only: the `airsyncbase:Body` of a 16.x draft. Email bodies live in the MIME, which the model rebuilds
   * from nothing else, so the text comes apart for the caller to compose the draft's new MIME from.
   */
  readonly draftBody?: StoredBody;
}

/** The per-class conversion between the mailbox models and EAS `ApplicationData`, for every protocol version. */
export interface ItemConverter<C extends ItemClass = ItemClass> {
  readonly class: C;
  /** Renders an item as the children of `airsync:ApplicationData` (the caller wraps them). */
  toApplicationData(item: StoredItem & { class: C }, context: ConvertContext): Promise<WbxmlElement[]>;
  /** Reads a client's `ApplicationData` (Add or Change). Throws `MalformedItemError` for unreadable input. */
  fromApplicationData(applicationData: WbxmlElement, version: ProtocolVersion): ParsedApplicationData<C>;
  /**
   * The model field a `Supported` child element stands for (e.g. `Contacts:MobilePhoneNumber` →
   * `mobilePhoneNumber`), or undefined when the tag is not a field of this class.
   */
  fieldOfTag(namespace: string, name: string): (keyof ItemDataByClass[C] & string) | undefined;
}

/** A client's item that cannot be read (Sync answers it with per-item Status 6). */
export class MalformedItemError extends Error {
  override readonly name = 'MalformedItemError';
}
