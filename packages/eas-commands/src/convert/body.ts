import {
  type BodyContent,
  htmlToText,
  InvalidArgumentError,
  type StoredBody,
  textToHtml,
  truncateUtf8,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { BodyPreference, ContentOptions, ConvertContext } from './types.js';
import { MalformedItemError } from './types.js';
import { atLeast } from './version.js';

const { AirSyncBase: ASB } = eas;

/** A body form EAS names by number in `airsyncbase:Type` (MS-ASAIRS 2.2.2.41). */
export type BodyForm = 'plain' | 'html' | 'rtf' | 'mime';

const FORM_OF_TYPE: Readonly<Record<1 | 2 | 3 | 4, BodyForm>> = {
  1: 'plain',
  2: 'html',
  3: 'rtf',
  4: 'mime',
};
const TYPE_OF_FORM: Readonly<Record<BodyForm, 1 | 2 | 3 | 4>> = { plain: 1, html: 2, rtf: 3, mime: 4 };

/** Reads the body in one form, truncated to at most `truncateBytes`; throws `BodyFormUnavailable` if it cannot. */
export type BodyReader = (form: BodyForm, truncateBytes?: number) => Promise<BodyContent>;

/** The item has no body in the form asked for (the mailbox's `unsupported-body-type`). */
export class BodyFormUnavailable extends Error {
  override readonly name = 'BodyFormUnavailable';
}

/** The 12.0+ `airsyncbase:Body` of an item, plus the form the item is stored in (for `NativeBodyType`). */
export interface RenderedBody {
  readonly elements: WbxmlElement[];
  readonly nativeType?: 'plain' | 'html' | 'rtf';
}

/**
 * True when a message goes to the device as MIME under `MIMESupport` (MS-ASCMD 2.2.3.110.3): 2 for every
 * message, 1 only for S/MIME ones (message class `IPM.Note.SMIME*`).
 */
export function mimeAllowed(options: ContentOptions, messageClass: string): boolean {
  if (options.mimeSupport === 2) return true;
  return options.mimeSupport === 1 && /^IPM\.Note\.SMIME/i.test(messageClass);
}

/**
 * Renders `airsyncbase:Body` (12.0+, MS-ASAIRS 2.2.2.9). The device's BodyPreferences are tried in its order;
 * a type the item cannot provide is passed over (MIME only when `allowMime`), and so is a type whose body is
 * larger than TruncationSize when AllOrNone is set (MS-ASAIRS 2.2.2.3.2). When no preference fits, plain text,
 * then HTML, then the stored form is sent; when only AllOrNone refusals remain, the first refused type is
 * announced without Data (Truncated 1, EstimatedDataSize). `Preview` (14.0+) is added when asked for.
 * Throws when the item has no readable body at all.
 */
export async function renderAirSyncBaseBody(
  read: BodyReader,
  context: ConvertContext,
  allowMime: boolean,
  previewSource?: () => Promise<string>,
): Promise<RenderedBody> {
  const preferences: readonly BodyPreference[] = context.options.bodyPreferences.length
    ? context.options.bodyPreferences
    : [{ type: 1 }];
  let refused: { preference: BodyPreference; content: BodyContent } | undefined;
  let nativeType: RenderedBody['nativeType'];
  for (const preference of preferences) {
    if (preference.type === 4 && !allowMime) continue;
    const content = await tryRead(read, FORM_OF_TYPE[preference.type], preference.truncationSize);
    if (!content) continue;
    nativeType = content.nativeType;
    if (preference.allOrNone && preference.truncationSize !== undefined && content.truncated) {
      refused ??= { preference, content };
      continue;
    }
    return { elements: [await bodyElement(preference, content, context, previewSource)], nativeType };
  }
  if (refused) {
    const { preference, content } = refused;
    const withoutData: BodyContent = { ...content, data: '', truncated: true } as BodyContent;
    return {
      elements: [await bodyElement(preference, withoutData, context, previewSource)],
      nativeType: content.nativeType,
    };
  }
  const limit = preferences[0]?.truncationSize;
  for (const form of ['plain', 'html', 'rtf'] as const) {
    const content = await tryRead(read, form, limit);
    if (!content) continue;
    nativeType = content.nativeType;
    const fallback: BodyPreference = {
      type: TYPE_OF_FORM[form] as 1 | 2 | 3,
      ...(limit === undefined ? {} : { truncationSize: limit }),
    };
    return { elements: [await bodyElement(fallback, content, context, previewSource)], nativeType };
  }
  throw new Error('the item has no body in any form EAS can carry');
}

async function bodyElement(
  preference: BodyPreference,
  content: BodyContent,
  context: ConvertContext,
  previewSource: (() => Promise<string>) | undefined,
): Promise<WbxmlElement> {
  const limit = preference.truncationSize;
  let data: string | Uint8Array = content.data;
  let truncated = content.truncated;
  // Stores promise the cut; checked again because a device shown a half character can choke on the rest.
  if (limit !== undefined) {
    if (typeof data === 'string') {
      const cut = truncateUtf8(data, limit);
      if (cut.truncated) ({ data, truncated } = { data: cut.data, truncated: true });
    } else if (data.byteLength > limit) {
      data = truncateBytes(data, limit);
      truncated = true;
    }
  }
  const empty = typeof data === 'string' ? data.length === 0 : data.byteLength === 0;
  const wantsPreview = (preference.preview ?? 0) > 0 && atLeast(context.version, '14.0');
  const preview =
    wantsPreview && previewSource ? makePreview(await previewSource(), preference.preview!) : '';
  return ASB.Body(
    ASB.Type(preference.type),
    ASB.EstimatedDataSize(content.estimatedSize),
    ASB.Truncated(truncated ? '1' : '0'),
    truncated && empty ? null : ASB.Data(data),
    preview ? ASB.Preview(preview) : null,
  );
}

/**
 * Renders `airsyncbase:BodyPart` (14.1+, MS-ASAIRS 2.2.2.10) for a message when the device sent a
 * BodyPartPreference: the message's HTML (the only body part type), truncated as asked. The server does not cut
 * quoted conversation history away, so the part is the whole HTML body, with Status 1.
 */
export async function renderBodyPart(
  read: BodyReader,
  context: ConvertContext,
): Promise<WbxmlElement | null> {
  const preference = context.options.bodyPartPreferences?.[0];
  if (!preference || !atLeast(context.version, '14.1')) return null;
  const content = await tryRead(read, 'html', preference.truncationSize);
  if (!content || typeof content.data !== 'string') return null;
  let data = content.data;
  let truncated = content.truncated;
  if (preference.truncationSize !== undefined) {
    const cut = truncateUtf8(data, preference.truncationSize);
    if (cut.truncated) ({ data, truncated } = { data: cut.data, truncated: true });
  }
  const withheld = truncated && preference.allOrNone === true;
  const preview =
    (preference.preview ?? 0) > 0 ? makePreview(htmlToText(content.data), preference.preview!) : '';
  return ASB.BodyPart(
    ASB.Status(1),
    ASB.Type(2),
    ASB.EstimatedDataSize(content.estimatedSize),
    ASB.Truncated(truncated ? '1' : '0'),
    withheld || (truncated && data === '') ? null : ASB.Data(data),
    preview ? ASB.Preview(preview) : null,
  );
}

/** Up to `length` characters (code points) of the text with runs of white space folded to one space. */
export function makePreview(text: string, length: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return Array.from(folded).slice(0, Math.min(length, 255)).join('');
}

async function tryRead(read: BodyReader, form: BodyForm, limit?: number): Promise<BodyContent | undefined> {
  try {
    return await read(form, limit);
  } catch (error) {
    if (error instanceof BodyFormUnavailable) return undefined;
    throw error;
  }
}

/** Cuts bytes to at most `max` without splitting a UTF-8 sequence (the same rule the mailbox applies). */
function truncateBytes(bytes: Uint8Array, max: number): Uint8Array {
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

/** A `BodyReader` over the context's `readBody`, mapping the mailbox's unsupported-type error. */
export function contextReader(context: ConvertContext): BodyReader {
  return async (form, truncateBytes) => {
    try {
      return await context.readBody(form, truncateBytes);
    } catch (error) {
      if (error instanceof InvalidArgumentError && error.reason === 'unsupported-body-type') {
        throw new BodyFormUnavailable(`no ${form} body`);
      }
      throw error;
    }
  };
}

/**
 * A `BodyReader` over a body kept in the item (Calendar, Contacts, Tasks, Notes, calendar exceptions): plain and
 * HTML convert into each other; RTF is only available as itself; MIME never.
 */
export function storedBodyReader(body: StoredBody): BodyReader {
  return async (form, truncateBytes) => {
    if (form === 'mime') throw new BodyFormUnavailable('no MIME body');
    if ((form === 'rtf') !== (body.type === 'rtf')) throw new BodyFormUnavailable(`no ${form} body`);
    let text = body.data;
    if (form !== body.type) text = form === 'plain' ? htmlToText(text) : textToHtml(text);
    const cut = truncateUtf8(text, truncateBytes ?? Number.POSITIVE_INFINITY);
    return {
      type: form,
      data: cut.data,
      estimatedSize: cut.size,
      truncated: cut.truncated,
      nativeType: body.type,
    };
  };
}

/** The plain text of a stored body for a preview, or '' for RTF. */
export function storedBodyText(body: StoredBody): string {
  if (body.type === 'rtf') return '';
  return body.type === 'html' ? htmlToText(body.data) : body.data;
}

/**
 * The 2.5 body of a Calendar, Contacts or Tasks item: `<Class>:Body` plain text, cut to the `Truncation` the
 * device asked for, with `BodyTruncated` and (Contacts, Tasks, which have the tag) `BodySize`. RTF-only bodies
 * are left out (2.5 would need the legacy compressed-RTF element).
 */
export function renderLegacyBody(
  namespace: 'Calendar' | 'Contacts' | 'Tasks',
  body: StoredBody,
  options: ContentOptions,
): WbxmlElement[] {
  if (body.type === 'rtf') return [];
  const cut = truncateUtf8(storedBodyText(body), options.truncation ?? Number.POSITIVE_INFINITY);
  const truncated = cut.truncated ? '1' : '0';
  if (namespace === 'Calendar') return [eas.Calendar.Body(cut.data), eas.Calendar.BodyTruncated(truncated)];
  const page = namespace === 'Contacts' ? eas.Contacts : eas.Tasks;
  return [page.Body(cut.data), page.BodySize(cut.size), page.BodyTruncated(truncated)];
}

/**
 * The body of a non-email item in the form of the negotiated version, or nothing when the item has none:
 * `airsyncbase:Body` from 12.0, the class's own legacy elements in 2.5.
 */
export async function renderStoredBody(
  namespace: 'Calendar' | 'Contacts' | 'Tasks' | 'Notes',
  body: StoredBody | undefined,
  context: ConvertContext,
): Promise<WbxmlElement[]> {
  if (!body) return [];
  if (!atLeast(context.version, '12.0')) {
    if (namespace === 'Notes') return [];
    return renderLegacyBody(namespace, body, context.options);
  }
  const rendered = await renderAirSyncBaseBody(storedBodyReader(body), context, false, async () =>
    storedBodyText(body),
  );
  return rendered.elements;
}

/**
 * Reads a body a client sent: `airsyncbase:Body` (Type 1 plain, 2 HTML, 3 RTF, with Data), or the 2.5 class
 * `Body` (plain text). Undefined when neither is there. Throws `MalformedItemError` for a MIME or unknown type.
 */
export function parseClientBody(
  applicationData: WbxmlElement,
  legacyNamespace?: 'Calendar' | 'Contacts' | 'Tasks' | 'Email',
): StoredBody | undefined {
  const body = applicationData.child('AirSyncBase:Body');
  if (body) {
    const type = body.intOf('Type') ?? 1;
    const form = type === 1 || type === 2 || type === 3 ? FORM_OF_TYPE[type] : undefined;
    if (!form || form === 'mime') throw new MalformedItemError(`unsupported body type ${type} from client`);
    const dataElement = body.child('AirSyncBase:Data');
    // A body announced as cut with no data says nothing about the content: leave the stored body alone.
    if (!dataElement && body.boolOf('Truncated') === true) return undefined;
    const data = dataElement?.bytes ? new TextDecoder().decode(dataElement.bytes) : (dataElement?.text ?? '');
    return { type: form, data };
  }
  if (legacyNamespace) {
    const legacy = applicationData.child(`${legacyNamespace}:Body`);
    if (legacy) {
      const data = legacy.bytes ? new TextDecoder().decode(legacy.bytes) : (legacy.text ?? '');
      return { type: 'plain', data };
    }
  }
  return undefined;
}

/**
 * The body of a message in the negotiated version's form. 12.0+: `airsyncbase:Body` (MIME as OPAQUE bytes when
 * `MIMESupport` allows it and the device asked for Type 4) with the stored form for `NativeBodyType`. 2.5:
 * `MIMETruncated`/`MIMESize`/`MIMEData` when `MIMESupport` allows MIME, else plain `BodyTruncated`/`Body`
 * (with `BodySize` when cut), truncated to the request's `MIMETruncation` / `Truncation`.
 */
export async function renderEmailBody(
  messageClass: string,
  context: ConvertContext,
  storedPreview?: string,
): Promise<RenderedBody> {
  const read = contextReader(context);
  const allowMime = mimeAllowed(context.options, messageClass);
  if (atLeast(context.version, '12.0')) {
    return renderAirSyncBaseBody(read, context, allowMime, async () => {
      if (storedPreview !== undefined) return storedPreview;
      // A preview is at most 255 characters; 4 bytes each is enough of the text to fold.
      const plain = await tryRead(read, 'plain', 255 * 4 * 2);
      return typeof plain?.data === 'string' ? plain.data : '';
    });
  }
  const E = eas.Email;
  if (allowMime) {
    const mime = await read('mime', context.options.mimeTruncation);
    const bytes = typeof mime.data === 'string' ? new TextEncoder().encode(mime.data) : mime.data;
    return {
      elements: [
        E.MIMETruncated(mime.truncated ? '1' : '0'),
        E.MIMESize(mime.estimatedSize),
        E.MIMEData(bytes),
      ],
    };
  }
  const plain = await read('plain', context.options.truncation);
  const text = typeof plain.data === 'string' ? plain.data : new TextDecoder().decode(plain.data);
  return {
    elements: [
      plain.truncated ? E.BodySize(plain.estimatedSize) : null,
      E.BodyTruncated(plain.truncated ? '1' : '0'),
      E.Body(text),
    ].filter((element): element is WbxmlElement => element !== null),
  };
}
