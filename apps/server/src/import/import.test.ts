import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Folder,
  FolderType,
  type ItemData,
  type MailboxStore,
  MemoryMailboxStore,
  NotFoundError,
  ROOT_FOLDER_ID,
  type StoredItem,
} from '@easkit/mailbox';
import { InProcessPushBus, type PushEvent, publishingMailbox } from '@easkit/push';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImportAbortedError, type ImportEvent, type ImportReport, importFiles } from './import.js';

const FIXTURES = new URL('../../test/fixtures/import/', import.meta.url).pathname;
const USER = 'ada';
const DEFAULTS: [string, FolderType][] = [
  ['Inbox', FolderType.Inbox],
  ['Drafts', FolderType.Drafts],
  ['Deleted Items', FolderType.DeletedItems],
  ['Sent Items', FolderType.SentItems],
  ['Calendar', FolderType.Calendar],
  ['Contacts', FolderType.Contacts],
  ['Tasks', FolderType.Tasks],
];

let dir: string;
let mailbox: MemoryMailboxStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'easkit-import-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  mailbox = new MemoryMailboxStore();
  await createUser(mailbox);
});

async function createUser(store: MailboxStore) {
  await store.createUser({
    id: USER,
    primarySmtpAddress: 'ada@example.com',
    aliases: ['countess@example.org'],
  });
  for (const [displayName, type] of DEFAULTS) {
    await store.createFolder(USER, { parentId: ROOT_FOLDER_ID, displayName, type });
  }
}

async function folderNamed(path: string, store: MailboxStore = mailbox): Promise<Folder> {
  const folders = await store.listFolders(USER);
  let parentId = ROOT_FOLDER_ID;
  let found: Folder | undefined;
  for (const name of path.split('/')) {
    found = folders.find((folder) => folder.parentId === parentId && folder.displayName === name);
    if (!found) throw new Error(`no folder ${path}: ${folders.map((f) => f.displayName).join(', ')}`);
    parentId = found.id;
  }
  return found!;
}

async function itemsIn(path: string, store: MailboxStore = mailbox): Promise<StoredItem[]> {
  const folder = await folderNamed(path, store);
  const page = await store.changes(USER, folder.id, 0, 100_000);
  return page.changes.flatMap((change) => (change.kind === 'delete' ? [] : [change.item]));
}

function emails(items: StoredItem[]) {
  return items.map((item) => {
    if (item.class !== 'Email') throw new Error('not an email');
    return item.data;
  });
}

function counts(report: ImportReport) {
  return report.counts;
}

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
  return path;
}

function message(id: string | undefined, subject: string, extra: string[] = []): string {
  return [
    'From: Grace <grace@example.com>',
    'To: ada@example.com',
    `Subject: ${subject}`,
    'Date: Wed, 08 Jan 2025 12:00:00 +0000',
    ...(id ? [`Message-ID: <${id}>`] : []),
    ...extra,
    '',
    `Body of ${subject}.`,
    '',
  ].join('\r\n');
}

describe('importFiles: mail', () => {
  it('imports a .eml into the Inbox through local delivery, and skips it the second time (same Message-ID)', async () => {
    const path = join(FIXTURES, 'message.eml');
    const first = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(counts(first).Email).toEqual({ imported: 1, skipped: 0 });
    expect(first.files).toEqual({ read: 1, skipped: 0 });
    const [email] = emails(await itemsIn('Inbox'));
    expect(email).toMatchObject({
      subject: 'Notes on the engine',
      from: { name: 'Ada Lovelace', address: 'ada@example.com' },
      to: [{ name: 'Grace Hopper', address: 'grace@example.com' }],
      dateReceived: new Date('2025-01-07T10:00:00Z'),
      read: true,
      messageClass: 'IPM.Note',
    });
    const body = await mailbox.readBody(USER, (await itemsIn('Inbox'))[0]!.id, { type: 'plain' });
    expect(body.data).toContain('From Ada, with regards.');

    const second = await importFiles({ mailbox, user: 'countess@example.org', paths: [path] });
    expect(counts(second).Email).toEqual({ imported: 0, skipped: 1 });
    expect(second.skipped).toEqual([
      { type: 'skipped', kind: 'Email', source: path, code: 'duplicate', reason: 'already in Inbox' },
    ]);
    expect(await itemsIn('Inbox')).toHaveLength(1);
  });

  it('recognises a message without a Message-ID by its bytes', async () => {
    const path = await file('no-id.eml', message(undefined, 'No id'));
    const other = await file('no-id-2.eml', message(undefined, 'No id either'));
    await importFiles({ mailbox, user: USER, paths: [path] });
    const again = await importFiles({ mailbox, user: USER, paths: [path, other] });
    expect(counts(again).Email).toEqual({ imported: 1, skipped: 1 });
    expect(await itemsIn('Inbox')).toHaveLength(2);
  });

  it('reads a .eml saved with an mbox separator line as the one-message mbox it is', async () => {
    const path = await file(
      'saved.eml',
      `From grace@example.com Wed Jan  8 12:00:00 2025\n${message('saved@x', 'Saved')}`,
    );
    const report = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(report.counts.Email).toEqual({ imported: 1, skipped: 0 });
    expect(emails(await itemsIn('Inbox'))[0]).toMatchObject({
      subject: 'Saved',
      from: { address: 'grace@example.com' },
    });
  });

  it('imports an mbox: unquotes From lines, reads status headers, skips broken and deleted messages', async () => {
    const path = join(FIXTURES, 'archive.mbox');
    const events: ImportEvent[] = [];
    const report = await importFiles({
      mailbox,
      user: USER,
      paths: [path],
      onProgress: (e) => events.push(e),
    });
    expect(counts(report).Email).toEqual({ imported: 3, skipped: 2 });
    expect(report.skipped.map(({ source, code }) => [source, code])).toEqual([
      [`${path}#3`, 'invalid'],
      [`${path}#4`, 'deleted'],
    ]);
    expect(events.filter((event) => event.type === 'imported').map((event) => event.source)).toEqual([
      `${path}#1`,
      `${path}#2`,
      `${path}#5`,
    ]);
    const inbox = await itemsIn('Inbox');
    const [first, second, last] = emails(inbox);
    expect(first).toMatchObject({
      subject: 'First',
      read: true,
      dateReceived: new Date('2025-01-06T09:00:00Z'),
    });
    expect(second).toMatchObject({ subject: 'Second', read: false, flag: { status: 2 } });
    expect(last).toMatchObject({ subject: 'Last, without a final newline' });
    const body = await mailbox.readBody(USER, inbox[0]!.id, { type: 'plain' });
    expect(body.data).toContain('\nFrom here on the line was quoted.\n>From this one twice.');
    const lastBody = await mailbox.readBody(USER, inbox[2]!.id, { type: 'plain' });
    expect(String(lastBody.data).trim()).toBe('The end.');
  });

  it('puts mail into a named folder, creating the path, and refuses a folder of another class', async () => {
    const path = join(FIXTURES, 'archive.mbox');
    const report = await importFiles({ mailbox, user: USER, paths: [path], folder: 'Archive/2024' });
    expect(counts(report).Email.imported).toBe(3);
    const archive = await folderNamed('Archive');
    const year = await folderNamed('Archive/2024');
    expect(archive).toMatchObject({ parentId: ROOT_FOLDER_ID, type: FolderType.UserMail });
    expect(year).toMatchObject({ parentId: archive.id, type: FolderType.UserMail });
    expect(await itemsIn('Archive/2024')).toHaveLength(3);
    expect(await itemsIn('Inbox')).toHaveLength(0);

    const wrong = await importFiles({
      mailbox,
      user: USER,
      paths: [join(FIXTURES, 'message.eml')],
      folder: 'calendar',
    });
    expect(wrong.skipped).toMatchObject([
      { kind: 'Email', code: 'folder', reason: 'Calendar holds Calendar items, not Email' },
    ]);
  });

  it('imports a Maildir: flags from file names, new/ unread, T skipped, Maildir++ subfolders as folders', async () => {
    const root = join(dir, 'Maildir');
    await rm(root, { recursive: true, force: true });
    const put = (sub: string, name: string, content: string) => file(join('Maildir', sub, name), content);
    await put('cur', '1736330400.M1P1.host:2,S', message('seen@x', 'Seen'));
    await put('cur', '1736330401.M2P1.host:2,FS', message('flagged@x', 'Flagged'));
    await put('cur', '1736330402.M3P1.host:2,RS', message('replied@x', 'Replied'));
    await put('cur', '1736330403.M4P1.host:2,ST', message('trashed@x', 'Trashed'));
    await put('new', '1736330404.M5P1.host', message('new@x', 'New'));
    await mkdir(join(root, 'tmp'), { recursive: true });
    await put('.Sent/cur', '1736330405.M6P1.host:2,S', message('sent@x', 'Sent one'));
    await put('.Archive.2024/cur', '1736330406.M7P1.host:2,S', message('old@x', 'Old one'));
    await put('.&AMQ-rger/new', '1736330407.M8P1.host', message('umlaut@x', 'Umlaut'));
    await put('.NotAMaildir', 'stray.txt', 'no cur or new here');
    await writeFile(join(root, 'dovecot-uidlist'), '3 V1 N9\n');

    const report = await importFiles({ mailbox, user: USER, paths: [root] });
    expect(counts(report).Email).toEqual({ imported: 7, skipped: 1 });
    expect(report.skipped).toMatchObject([
      { code: 'deleted', reason: 'marked for deletion (Maildir flag T)' },
    ]);
    expect(report.files).toEqual({ read: 1, skipped: 0 });

    const inbox = emails(await itemsIn('Inbox'));
    expect(
      inbox.map((email) => [email.subject, email.read, email.flag?.status, email.lastVerbExecuted]),
    ).toEqual([
      ['Seen', true, undefined, undefined],
      ['Flagged', true, 2, undefined],
      ['Replied', true, undefined, 1],
      ['New', false, undefined, undefined],
    ]);
    expect(inbox[0]!.dateReceived).toEqual(new Date(1736330400 * 1000));
    expect(emails(await itemsIn('Sent Items')).map((email) => email.subject)).toEqual(['Sent one']);
    expect(emails(await itemsIn('Archive/2024')).map((email) => email.subject)).toEqual(['Old one']);
    expect(emails(await itemsIn('Ärger')).map((email) => email.subject)).toEqual(['Umlaut']);

    // Again: nothing new.
    const again = await importFiles({ mailbox, user: USER, paths: [root] });
    expect(counts(again).Email).toEqual({ imported: 0, skipped: 8 });
  });

  it('with a folder, keeps a Maildir together below it', async () => {
    const root = join(dir, 'Maildir2');
    await file(join('Maildir2', 'cur', '1.M1.host:2,S'), message('a@x', 'Top'));
    await file(join('Maildir2', '.Sent', 'cur', '2.M2.host:2,S'), message('b@x', 'Sent'));
    await importFiles({ mailbox, user: USER, paths: [root], folder: 'Old account' });
    expect(emails(await itemsIn('Old account')).map((email) => email.subject)).toEqual(['Top']);
    expect(emails(await itemsIn('Old account/Sent')).map((email) => email.subject)).toEqual(['Sent']);
    expect(await itemsIn('Sent Items')).toHaveLength(0);
  });
});

describe('importFiles: calendar, tasks and contacts', () => {
  it('imports an .ics into Calendar and Tasks, and adds nothing the second time', async () => {
    const path = join(FIXTURES, 'calendar.ics');
    const report = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(report.counts.Calendar).toEqual({ imported: 3, skipped: 1 });
    expect(report.counts.Tasks).toEqual({ imported: 3, skipped: 0 });
    expect(report.skipped.map(({ kind, code, reason }) => [kind, code, reason])).toEqual([
      ['Calendar', 'invalid', 'VEVENT without DTSTART'],
      ['file', 'unsupported', 'VJOURNAL is not imported'],
    ]);
    const events = await itemsIn('Calendar');
    expect(events.map((item) => (item.class === 'Calendar' ? item.data.subject : ''))).toEqual([
      'Stand-up',
      'Labour Day',
      'Design review',
    ]);
    const [standup] = events;
    expect(standup!.class === 'Calendar' && standup!.data.exceptions).toHaveLength(2);
    expect((await itemsIn('Tasks')).map((item) => (item.class === 'Tasks' ? item.data.subject : ''))).toEqual(
      ['File expenses', 'Book flights', 'Water the plants'],
    );

    const again = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(again.counts.Calendar).toEqual({ imported: 0, skipped: 4 });
    expect(again.counts.Tasks).toEqual({ imported: 0, skipped: 3 });
    expect(await itemsIn('Calendar')).toHaveLength(3);
  });

  it('with a folder, creates a calendar folder and reports the tasks that cannot go there', async () => {
    const report = await importFiles({
      mailbox,
      user: USER,
      paths: [join(FIXTURES, 'calendar.ics')],
      folder: 'Work',
    });
    expect(await folderNamed('Work')).toMatchObject({ type: FolderType.UserCalendar });
    expect(report.counts.Calendar.imported).toBe(3);
    expect(report.counts.Tasks).toEqual({ imported: 0, skipped: 3 });
    expect(report.skipped.filter((event) => event.kind === 'Tasks')[0]).toMatchObject({
      code: 'folder',
      reason: 'Work holds Calendar items, not Tasks',
    });
  });

  it('imports a .vcf into Contacts with warnings, skips invalid cards, and adds nothing the second time', async () => {
    const path = join(FIXTURES, 'contacts.vcf');
    const report = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(report.counts.Contacts).toEqual({ imported: 3, skipped: 2 });
    expect(report.warnings.map((event) => event.reason)).toEqual([
      '1 e-mail address(es) beyond the three EAS keeps',
      'BDAY --1210 has no EAS form (a full date is needed)',
    ]);
    const contacts = await itemsIn('Contacts');
    expect(contacts.map((item) => (item.class === 'Contacts' ? item.data.fileAs : ''))).toEqual([
      'Grace Hopper',
      'Ada Lovelace',
      'Jürgen Müller',
    ]);
    const again = await importFiles({ mailbox, user: USER, paths: [path] });
    expect(again.counts.Contacts).toEqual({ imported: 0, skipped: 5 });
  });
});

describe('importFiles: bad input never stops an import', () => {
  it('walks a directory: skips binary and unknown files, reads the rest, reports paths that do not exist', async () => {
    const mixed = join(dir, 'mixed');
    await rm(mixed, { recursive: true, force: true });
    await mkdir(join(mixed, 'nested'), { recursive: true });
    await writeFile(join(mixed, 'photo.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0x00, 0x10, 0x4a]));
    await writeFile(join(mixed, 'binary.eml'), new Uint8Array([0x00, 0x01, 0x02, 0xff, 0x0a, 0x0a, 0x41]));
    await writeFile(join(mixed, 'garbage.vcf'), new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00]));
    await writeFile(join(mixed, '.DS_Store'), new Uint8Array([0, 0, 0, 1]));
    await copyFile(join(FIXTURES, 'message.eml'), join(mixed, 'nested', 'message'));
    await copyFile(join(FIXTURES, 'contacts.vcf'), join(mixed, 'nested', 'people'));
    const missing = join(dir, 'does-not-exist.mbox');

    const report = await importFiles({ mailbox, user: USER, paths: [mixed, missing] });
    expect(report.counts.Email).toEqual({ imported: 1, skipped: 1 });
    expect(report.counts.Contacts.imported).toBe(3);
    expect(
      report.skipped.map(({ kind, source, code }) => [kind, source.slice(dir.length + 1), code]),
    ).toEqual([
      ['Email', 'mixed/binary.eml', 'invalid'],
      ['file', 'mixed/garbage.vcf', 'invalid'],
      ['Contacts', 'mixed/nested/people#vCard 4', 'invalid'],
      ['Contacts', 'mixed/nested/people#vCard 5 (Cut Off)', 'invalid'],
      ['file', 'mixed/photo.jpg', 'unsupported'],
      ['file', 'does-not-exist.mbox', 'unreadable'],
    ]);
  });

  it('skips a file named .mbox that is not one, and a message over the size limit', async () => {
    const notMbox = await file('fake.mbox', 'Subject: hello\r\n\r\nnot an mbox\r\n');
    const big = await file('big.eml', message('big@x', 'Big', [`X-Filler: ${'x'.repeat(5000)}`]));
    const report = await importFiles({ mailbox, user: USER, paths: [notMbox, big], maxMessageBytes: 1000 });
    expect(report.skipped.map(({ kind, code }) => [kind, code])).toEqual([
      ['file', 'unsupported'],
      ['Email', 'too-large'],
    ]);
  });

  it('refuses an unknown user before reading anything', async () => {
    await expect(
      importFiles({ mailbox, user: 'nobody@example.com', paths: [FIXTURES] }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('stops with the partial report when the store itself fails', async () => {
    class FailingStore extends MemoryMailboxStore {
      writes = 0;
      override async createItem(userId: string, folderId: string, item: ItemData): Promise<StoredItem> {
        if (++this.writes > 2) throw new Error('connection lost');
        return super.createItem(userId, folderId, item);
      }
    }
    const failing = new FailingStore();
    await createUser(failing);
    const error = await importFiles({
      mailbox: failing,
      user: USER,
      paths: [join(FIXTURES, 'archive.mbox')],
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImportAbortedError);
    expect((error as ImportAbortedError).report.counts.Email.imported).toBe(2);
    expect((error as Error).message).toBe('import stopped: connection lost');
  });

  it('writes through the mailbox it is given, so every import publishes for Direct Push', async () => {
    const bus = new InProcessPushBus();
    const published = publishingMailbox(new MemoryMailboxStore(), bus);
    await createUser(published);
    const events: PushEvent[] = [];
    await bus.subscribe(USER, (event) => void events.push(event));
    await importFiles({ mailbox: published, user: USER, paths: [join(FIXTURES, 'message.eml')] });
    const inbox = await folderNamed('Inbox', published);
    expect(events.map((event) => [...event.folderIds])).toContainEqual([inbox.id]);
  });
});

describe('importFiles: a 10,000-message mbox', () => {
  it('imports every message, streaming the file', async () => {
    const count = 10_000;
    const parts: string[] = [];
    for (let index = 0; index < count; index++) {
      parts.push(
        `From sender@example.com Thu Jan  2 10:00:00 2025\nFrom: s${index}@example.com\nSubject: m${index}\nMessage-ID: <m${index}@example.com>\n\nFrom the body of ${index}\n\n`.replace(
          '\n\nFrom the',
          '\n\n>From the',
        ),
      );
    }
    const path = await file('big.mbox', parts.join(''));
    let progress = 0;
    const report = await importFiles({
      mailbox,
      user: USER,
      paths: [path],
      onProgress: () => void progress++,
    });
    expect(report.counts.Email).toEqual({ imported: count, skipped: 0 });
    expect(progress).toBe(count);
    const inbox = await folderNamed('Inbox');
    expect(await mailbox.countItems(USER, inbox.id)).toBe(count);
  }, 120_000);
});
