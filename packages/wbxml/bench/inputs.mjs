// Deterministic EAS documents for the benchmarks. Every run builds the same bytes: a small seeded PRNG picks
// words, names and dates, so figures are comparable between runs and machines.
import { eas } from '../dist/index.js';

const { AirSync, AirSyncBase, Email, Email2, FolderHierarchy } = eas;

/** Mulberry32: a tiny, well-mixed 32-bit PRNG; good enough to vary text, and reproducible. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the meeting agenda budget review quarterly report please find attached thanks regards project ' +
  'deadline tomorrow update schedule customer invoice draft proposal team lunch office server release ' +
  'notes feedback question answer call monday friday week month plan design test deploy ticket issue ' +
  'résumé café naïve Grüße über straße – “quoted” ok'
).split(' ');
const FIRST = [
  'Anna',
  'Bernd',
  'Chloé',
  'David',
  'Eva',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Karin',
  'Luis',
];
const LAST = ['Müller', 'Smith', 'Dubois', 'Tanaka', 'Rossi', 'Novak', 'García', 'Berg', 'Okafor', 'Lind'];
const DOMAINS = ['example.com', 'contoso.test', 'fabrikam.test', 'mail.example.org'];

function pick(random, list) {
  return list[Math.floor(random() * list.length)];
}

function words(random, count) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(pick(random, WORDS));
  return out.join(' ');
}

function person(random) {
  const first = pick(random, FIRST);
  const last = pick(random, LAST);
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^A-Za-z.]/g, '')
    .toLowerCase();
  return { name: `${first} ${last}`, address: `${local}@${pick(random, DOMAINS)}` };
}

function mailbox({ name, address }) {
  return `"${name}" <${address}>`;
}

/** A plain-text body of about `size` characters, in lines of 10-16 words joined by CRLF, as mail has. */
function body(random, size) {
  const lines = [];
  let length = 0;
  while (length < size) {
    const line = words(random, 10 + Math.floor(random() * 7));
    lines.push(line);
    length += line.length + 2;
  }
  return lines.join('\r\n');
}

function isoDate(random, base) {
  return new Date(base - Math.floor(random() * 90 * 86_400_000)).toISOString().replace(/\.\d+Z$/, '.000Z');
}

function bytes(random, size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

const BASE_DATE = Date.UTC(2025, 0, 15, 12, 0, 0);

/** The ApplicationData of one email as a 16.1 server sends it with BodyPreference Type 1 (plain text). */
function emailData(random, index, bodySize) {
  const from = person(random);
  const to = [person(random), person(random)];
  const cc = random() < 0.3 ? [person(random)] : [];
  const subject = `${random() < 0.3 ? 'RE: ' : ''}${words(random, 4 + Math.floor(random() * 6))} #${index}`;
  const text = body(random, bodySize);
  return AirSync.ApplicationData(
    Email.To(to.map(mailbox).join(', ')),
    cc.length > 0 && Email.Cc(cc.map(mailbox).join(', ')),
    Email.From(mailbox(from)),
    Email.Subject(subject),
    Email.ReplyTo(mailbox(from)),
    Email.DateReceived(isoDate(random, BASE_DATE)),
    Email.DisplayTo(to.map((p) => p.name).join('; ')),
    Email.ThreadTopic(subject.replace(/^RE: /, '')),
    Email.Importance(1),
    Email.Read(random() < 0.6 ? 1 : 0),
    AirSyncBase.Body(
      AirSyncBase.Type(1),
      AirSyncBase.EstimatedDataSize(Buffer.byteLength(text)),
      AirSyncBase.Data(text),
    ),
    Email.MessageClass('IPM.Note'),
    Email.InternetCPID(65001),
    Email.Flag(),
    Email.ContentClass('urn:content-classes:message'),
    AirSyncBase.NativeBodyType(1),
    Email2.ConversationId(bytes(random, 16)),
    Email2.ConversationIndex(bytes(random, 5)),
    Email.Categories(),
  );
}

/**
 * A Sync response for one Inbox collection with `count` new emails. With the default body size, 2,000 emails
 * come to about 3 MB of WBXML.
 */
export function syncResponse(count = 2000, { seed = 1, bodySize = 1000 } = {}) {
  const random = prng(seed);
  const adds = [];
  for (let i = 0; i < count; i++) {
    adds.push(AirSync.Add(AirSync.ServerId(`5:${i + 1}`), emailData(random, i + 1, bodySize)));
  }
  return AirSync.Sync(
    AirSync.Collections(
      AirSync.Collection(
        AirSync.SyncKey('1598337542'),
        AirSync.CollectionId(5),
        AirSync.Status(1),
        AirSync.Commands(adds),
        AirSync.MoreAvailable(),
      ),
    ),
  );
}

const FOLDER_NAMES = ['Projects', 'Clients', 'Archive', 'Receipts', 'Travel', 'Newsletters', 'Team', 'Ärzte'];

/** A first FolderSync response (SyncKey 0 to 1) with the default folders and user folders up to `count`. */
export function folderSyncResponse(count = 200, { seed = 2 } = {}) {
  const random = prng(seed);
  const defaults = [
    ['Inbox', 2],
    ['Drafts', 3],
    ['Deleted Items', 4],
    ['Sent Items', 5],
    ['Outbox', 6],
    ['Tasks', 7],
    ['Calendar', 8],
    ['Contacts', 9],
    ['Notes', 10],
    ['Journal', 11],
    ['Junk Email', 12],
  ];
  const folders = [];
  for (let i = 0; i < count; i++) {
    const [name, type] =
      i < defaults.length ? defaults[i] : [`${pick(random, FOLDER_NAMES)} ${i - defaults.length + 1}`, 12];
    const parent = i < defaults.length || random() < 0.5 ? '0' : String(1 + Math.floor(random() * i));
    folders.push(
      FolderHierarchy.Add(
        FolderHierarchy.ServerId(i + 1),
        FolderHierarchy.ParentId(parent),
        FolderHierarchy.DisplayName(name),
        FolderHierarchy.Type(type),
      ),
    );
  }
  return FolderHierarchy.FolderSync(
    FolderHierarchy.Status(1),
    FolderHierarchy.SyncKey('1'),
    FolderHierarchy.Changes(FolderHierarchy.Count(count), folders),
  );
}

/** A Sync request from a device uploading `count` new messages (Drafts) with client ids, and a fetch window. */
export function syncRequest(count = 100, { seed = 3, bodySize = 600 } = {}) {
  const random = prng(seed);
  const adds = [];
  for (let i = 0; i < count; i++) {
    const from = person(random);
    const to = person(random);
    const subject = words(random, 3 + Math.floor(random() * 5));
    const text = body(random, bodySize);
    adds.push(
      AirSync.Add(
        AirSync.ClientId(`c${(0x10000 + i * 7919).toString(16)}-${i}`),
        AirSync.ApplicationData(
          Email.To(mailbox(to)),
          Email.From(mailbox(from)),
          Email.Subject(subject),
          Email.DateReceived(isoDate(random, BASE_DATE)),
          Email.Importance(1),
          Email.Read(1),
          AirSyncBase.Body(AirSyncBase.Type(1), AirSyncBase.Data(text)),
          Email.MessageClass('IPM.Note'),
          Email2.IsDraft(1),
        ),
      ),
    );
  }
  return AirSync.Sync(
    AirSync.Collections(
      AirSync.Collection(
        AirSync.SyncKey('1598337543'),
        AirSync.CollectionId(3),
        AirSync.GetChanges(1),
        AirSync.WindowSize(100),
        AirSync.Options(
          AirSync.FilterType(0),
          AirSyncBase.BodyPreference(AirSyncBase.Type(1), AirSyncBase.TruncationSize(32768)),
        ),
        AirSync.Commands(adds),
      ),
    ),
    AirSync.WindowSize(512),
  );
}

/** Number of elements in a tree. */
export function countNodes(root) {
  let count = 0;
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    count++;
    if (Array.isArray(node.content)) for (const child of node.content) stack.push(child);
  }
  return count;
}
