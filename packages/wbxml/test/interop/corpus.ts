// The EAS document corpus of the libwbxml interop test, generated deterministically from our code pages.
//
// - One document per code page 0-24 holding every tag of that page that libwbxml knows, exactly once. Command
//   pages (AirSync, Move, FolderHierarchy, ...) put the tags under the page's command element; the pages of
//   item classes (Contacts, Email, Calendar, ...) put them in the ApplicationData of a Sync Add (GAL: in a
//   Search result), so the document switches code page in and back out. libwbxml does not validate structure, so tags are leaves;
//   every sixth one is empty, the others hold text, with non-ASCII UTF-8 and markup characters mixed in.
//   The elements libwbxml treats as binary (LIBWBXML_OPAQUE) hold bytes: a MIME message, conversation ids,
//   attachment and picture data.
// - A few hand-built documents shaped like real traffic: a SendMail carrying a real MIME message as opaque
//   bytes, a Sync response with Email2 conversation ids, a SmartForward with forwardees, and a meeting with
//   attendees, recurrence and exceptions (the tags libwbxml spells differently, in context).

import {
  CODE_PAGES,
  type CodePage,
  eas,
  type Namespace,
  type TagInfo,
  WbxmlElement,
} from '../../src/index.js';
import { LIBWBXML_LAST_PAGE, libwbxmlKnows, libwbxmlOpaque } from './libwbxml.js';

export interface InteropDocument {
  /** Stable name, used in test titles. */
  readonly id: string;
  readonly tree: WbxmlElement;
}

/** The element each command page's document is rooted at; pages not listed are item-class pages. */
const COMMAND_ROOTS: Readonly<Partial<Record<Namespace, string>>> = {
  AirSync: 'Sync',
  AirNotify: 'Notify',
  Move: 'MoveItems',
  GetItemEstimate: 'GetItemEstimate',
  FolderHierarchy: 'FolderSync',
  MeetingResponse: 'MeetingResponse',
  ResolveRecipients: 'ResolveRecipients',
  ValidateCert: 'ValidateCert',
  Ping: 'Ping',
  Provision: 'Provision',
  Search: 'Search',
  Settings: 'Settings',
  ItemOperations: 'ItemOperations',
  ComposeMail: 'SendMail',
};

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * A multipart message as a client sends it in SendMail: CRLF line ends, an 8-bit UTF-8 text part and a part
 * in binary transfer encoding holding every byte value, so the OPAQUE payload is not valid UTF-8.
 */
export const MIME_MESSAGE: Uint8Array = (() => {
  const head = utf8(
    [
      'From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>',
      'To: "Bob O\'Neil" <bob@example.com>',
      'Subject: =?UTF-8?B?R3LDvMOfZSDwn5mC?=',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus Köln – 東京 🙂',
      '--b1',
      'Content-Type: application/octet-stream; name="bytes.bin"',
      'Content-Transfer-Encoding: binary',
      '',
      '',
    ].join('\r\n'),
  );
  const body = Uint8Array.from({ length: 256 }, (_, i) => i);
  const tail = utf8('\r\n--b1--\r\n');
  return Uint8Array.from([...head, ...body, ...tail]);
})();

/** A 16-byte ConversationId as Exchange sends it (a GUID), with bytes that are WBXML tokens (END, STR_I, OPAQUE). */
const CONVERSATION_ID = Uint8Array.of(
  0x01,
  0x03,
  0xc3,
  0x00,
  0xff,
  0x7f,
  0x80,
  0x40,
  0x9e,
  0x2a,
  0x5c,
  0x11,
  0xd0,
  0xee,
  0x04,
  0x42,
);

/** A ConversationIndex: one reserved byte, a 5-byte time stamp and the 16-byte GUID, plus one 5-byte reply block. */
const CONVERSATION_INDEX = Uint8Array.from([
  0x01,
  0xd9,
  0x5a,
  0x3f,
  0x10,
  0x20,
  ...CONVERSATION_ID,
  0,
  0,
  0x12,
  0x34,
  0x56,
]);

/** Attachment content (AirSyncBase:Content): a gzip header and deflate bytes, not text. */
const ATTACHMENT = Uint8Array.of(
  0x1f,
  0x8b,
  0x08,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x03,
  0x01,
  0x00,
  0x00,
  0xff,
  0xff,
);

/** Picture data (ResolveRecipients:Data, Gal:Data): the start of a PNG file. */
const PICTURE = Uint8Array.of(
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  0x00,
  0x00,
  0x00,
  0x0d,
  0x49,
  0x48,
  0x44,
  0x52,
);

const TEXT_FLAVOURS = [
  '',
  ' – Grüße aus Köln',
  ' 東京 🙂',
  ' a&b <c> "d" \'e\'',
  ' line one\nline two\twith a tab',
];

/** The content of one generated leaf: bytes for libwbxml's opaque elements, else text or (every sixth) nothing. */
function leafContent(tag: TagInfo, index: number): string | Uint8Array | [] {
  if (libwbxmlOpaque(tag)) {
    if (tag.name === 'Mime') return MIME_MESSAGE;
    if (tag.name === 'ConversationId') return CONVERSATION_ID;
    if (tag.name === 'ConversationIndex') return CONVERSATION_INDEX;
    return tag.name === 'Content' ? ATTACHMENT : PICTURE;
  }
  if (index % 6 === 5) return [];
  return `${tag.name} ${tag.page}.${tag.token}${TEXT_FLAVOURS[index % TEXT_FLAVOURS.length]}`;
}

function pageDocument(page: CodePage): InteropDocument {
  const tags = page.tags.filter(libwbxmlKnows);
  const rootName = COMMAND_ROOTS[page.namespace];
  const leaves = tags
    .filter((tag) => tag.name !== rootName)
    .map((tag, index) => new WbxmlElement(tag, leafContent(tag, index)));
  const id = `page ${String(page.page).padStart(2, '0')} ${page.namespace}`;
  if (rootName !== undefined) {
    const root = tags.find((tag) => tag.name === rootName);
    if (!root) throw new Error(`${page.namespace} has no ${rootName}`);
    return { id, tree: new WbxmlElement(root, leaves) };
  }
  return { id, tree: itemEnvelope(page.namespace, leaves) };
}

/**
 * Where the tags of an item-class page live: GAL entries in a Search response's Properties, everything else
 * in the ApplicationData of a Sync Add followed by a Delete, so the encoder switches page in and back out.
 * (The GAL page must not sit in ApplicationData: libwbxml treats a Data element directly inside a Sync Add's
 * ApplicationData as OPAQUE without base64 in either direction, so Gal:Data would not round-trip there.)
 */
function itemEnvelope(namespace: Namespace, leaves: WbxmlElement[]): WbxmlElement {
  const { AirSync, Search } = eas;
  if (namespace === 'Gal') {
    return Search.Search(
      Search.Status(1),
      Search.Response(
        Search.Store(
          Search.Status(1),
          Search.Result(Search.Properties(leaves)),
          Search.Range('0-0'),
          Search.Total(1),
        ),
      ),
    );
  }
  return AirSync.Sync(
    AirSync.Collections(
      AirSync.Collection(
        AirSync.SyncKey('7'),
        AirSync.CollectionId('2'),
        AirSync.Commands(
          AirSync.Add(AirSync.ServerId('2:1'), AirSync.ApplicationData(leaves)),
          AirSync.Delete(AirSync.ServerId('2:0')),
        ),
      ),
    ),
  );
}

function scenarioDocuments(): InteropDocument[] {
  const { AirSync, AirSyncBase, Calendar, ComposeMail, Email, Email2 } = eas;
  return [
    {
      id: 'SendMail with a MIME message',
      tree: ComposeMail.SendMail(
        ComposeMail.ClientId('c0ffee-0001'),
        ComposeMail.SaveInSentItems(),
        ComposeMail.Mime(MIME_MESSAGE),
      ),
    },
    {
      id: 'SmartForward with forwardees',
      tree: ComposeMail.SmartForward(
        ComposeMail.ClientId('c0ffee-0002'),
        ComposeMail.Source(ComposeMail.FolderId('5'), ComposeMail.ItemId('5:12')),
        ComposeMail.Forwardees(
          ComposeMail.Forwardee(ComposeMail.Name('Zoë Ω'), ComposeMail.Email('zoe@example.org')),
          ComposeMail.Forwardee(ComposeMail.Email('bob@example.com')),
        ),
        ComposeMail.Mime(utf8('Subject: Fwd\r\n\r\nSee below – ça va?\r\n')),
      ),
    },
    {
      id: 'Sync response with an email and its conversation',
      tree: AirSync.Sync(
        AirSync.Collections(
          AirSync.Collection(
            AirSync.SyncKey('{5E3A}42'),
            AirSync.CollectionId('5'),
            AirSync.Status(1),
            AirSync.Commands(
              AirSync.Add(
                AirSync.ServerId('5:12'),
                AirSync.ApplicationData(
                  Email.To('"Bob O\'Neil" <bob@example.com>'),
                  Email.From('Zoë <zoe@example.org>'),
                  Email.Subject('Grüße 🙂 – 東京'),
                  Email.DateReceived('2024-05-01T08:30:00.000Z'),
                  Email.Read(0),
                  AirSyncBase.Body(
                    AirSyncBase.Type(1),
                    AirSyncBase.EstimatedDataSize(24),
                    AirSyncBase.Data('Grüße aus Köln\nμ & <b>'),
                  ),
                  Email.Flag(Email.Status(2), Email.FlagType('Follow up')),
                  Email2.ConversationId(CONVERSATION_ID),
                  Email2.ConversationIndex(CONVERSATION_INDEX),
                ),
              ),
            ),
          ),
        ),
      ),
    },
    {
      id: 'Sync with a recurring meeting',
      tree: AirSync.Sync(
        AirSync.Collections(
          AirSync.Collection(
            AirSync.SyncKey('3'),
            AirSync.CollectionId('3'),
            AirSync.Commands(
              AirSync.Change(
                AirSync.ServerId('3:7'),
                AirSync.ApplicationData(
                  Calendar.Timezone('xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=='),
                  Calendar.Subject('Réunion hebdo'),
                  Calendar.OrganizerName('Zoë'),
                  Calendar.OrganizerEmail('zoe@example.org'),
                  Calendar.Attendees(
                    Calendar.Attendee(
                      Calendar.Email('bob@example.com'),
                      Calendar.Name('Bob'),
                      Calendar.AttendeeStatus(3),
                      Calendar.AttendeeType(1),
                    ),
                  ),
                  Calendar.Recurrence(
                    Calendar.Type(1),
                    Calendar.Interval(1),
                    Calendar.DayOfWeek(2),
                    Calendar.Until('20241231T000000Z'),
                  ),
                  Calendar.Exceptions(
                    Calendar.Exception(Calendar.Deleted(1), Calendar.ExceptionStartTime('20240507T090000Z')),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    },
  ];
}

/** The whole corpus: one document per code page libwbxml has (0-24), then the hand-built documents. */
export function interopCorpus(): InteropDocument[] {
  return [
    ...CODE_PAGES.filter((page) => page.page <= LIBWBXML_LAST_PAGE).map(pageDocument),
    ...scenarioDocuments(),
  ];
}

/** Every tag a tree uses. */
export function tagsUsed(tree: WbxmlElement, into = new Set<TagInfo>()): Set<TagInfo> {
  into.add(tree.tag);
  for (const child of tree.children) tagsUsed(child, into);
  return into;
}
