import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMailboxName, isMaildir, maildirFlags, maildirFolders, maildirMessages } from './maildir.js';

describe('maildirFlags', () => {
  it('reads the letters after :2, (and the !2, / ;2, spellings), ignoring keywords', () => {
    expect(maildirFlags('1700000000.M1P2.host,S=1234:2,FRS')).toEqual({
      seen: true,
      flagged: true,
      replied: true,
      passed: false,
      trashed: false,
      draft: false,
    });
    expect(maildirFlags('1700000000.M1P2.host!2,PTa')).toMatchObject({
      passed: true,
      trashed: true,
      seen: false,
    });
    expect(maildirFlags('1700000000.M1P2.host;2,D')).toMatchObject({ draft: true });
    expect(maildirFlags('1700000000.M1P2.host')).toMatchObject({ seen: false, flagged: false });
    // An experimental :1, suffix carries no flags.
    expect(maildirFlags('1700000000.M1P2.host:1,S')).toMatchObject({ seen: false });
  });
});

describe('decodeMailboxName', () => {
  it("decodes IMAP's modified UTF-7", () => {
    expect(decodeMailboxName('&AMQ-rger')).toBe('Ärger');
    expect(decodeMailboxName('Tom &- Jerry')).toBe('Tom & Jerry');
    expect(decodeMailboxName('&ZeVnLIqe-')).toBe('日本語');
    expect(decodeMailboxName('plain')).toBe('plain');
    expect(decodeMailboxName('&-&AOQ-')).toBe('&ä');
  });
});

describe('maildirFolders and maildirMessages', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'easkit-maildir-'));
    for (const sub of ['cur', 'new', 'tmp', '.Archive.2024/cur', '.Archive/new', '.Sent/cur', '.broken']) {
      await mkdir(join(root, sub), { recursive: true });
    }
    await writeFile(join(root, 'cur', '1700000002.M2.host:2,S'), 'Subject: b\r\n\r\nb');
    await writeFile(join(root, 'cur', '1700000001.M1.host:2,'), 'Subject: a\r\n\r\na');
    await writeFile(join(root, 'cur', '.hidden'), 'not a message');
    await writeFile(join(root, 'new', '1700000003.M3.host'), 'Subject: c\r\n\r\nc');
    await writeFile(join(root, 'tmp', '1700000004.M4.host'), 'Subject: half-delivered\r\n');
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists the root and its Maildir++ subfolders, parents first, leaving out directories that are not Maildirs', async () => {
    expect(await isMaildir(root)).toBe(true);
    expect(await isMaildir(join(root, '.broken'))).toBe(false);
    const folders = await maildirFolders(root);
    expect(folders.map((folder) => folder.path)).toEqual([[], ['Archive'], ['Sent'], ['Archive', '2024']]);
  });

  it('yields cur/ then new/ in name order, never tmp/ or hidden files, with delivery times from the names', async () => {
    const messages = [];
    for await (const message of maildirMessages(root)) messages.push(message);
    expect(
      messages.map((message) => [message.file.slice(root.length + 1), message.isNew, message.flags.seen]),
    ).toEqual([
      ['cur/1700000001.M1.host:2,', false, false],
      ['cur/1700000002.M2.host:2,S', false, true],
      ['new/1700000003.M3.host', true, false],
    ]);
    expect(messages[0]!.deliveredAt).toEqual(new Date(1_700_000_001_000));
  });
});
