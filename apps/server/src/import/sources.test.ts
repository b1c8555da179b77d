import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSources, type Source, sniff } from './sources.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('sniff', () => {
  it('recognises each format by its first bytes', () => {
    expect(sniff(bytes('From a@b Thu Jan  2 10:00:00 2025\n'))).toBe('mbox');
    expect(sniff(bytes('\uFEFFBEGIN:VCALENDAR\r\n'))).toBe('ics');
    expect(sniff(bytes('\r\nbegin:vcard\r\n'))).toBe('vcf');
    expect(sniff(bytes('Return-Path: <a@b>\r\nSubject: x\r\n'))).toBe('eml');
  });

  it('recognises nothing in binary data or prose', () => {
    expect(sniff(new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x00]))).toBeUndefined();
    expect(sniff(bytes('Dear diary, today\n'))).toBeUndefined();
    expect(sniff(new Uint8Array())).toBeUndefined();
  });
});

describe('findSources', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'easkit-sources-'));
    await mkdir(join(root, 'export', 'Maildir', 'cur'), { recursive: true });
    await mkdir(join(root, 'export', 'Maildir', '.Sent', 'cur'), { recursive: true });
    await writeFile(join(root, 'export', 'a.ICS'), 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n');
    await writeFile(join(root, 'export', 'Inbox'), 'From a@b Thu Jan  2 10:00:00 2025\nSubject: x\n\nx\n');
    await writeFile(join(root, 'export', 'notes.txt'), 'just text');
    await writeFile(join(root, 'export', '.DS_Store'), new Uint8Array([0, 0, 0, 1]));
    await symlink(join(root, 'export'), join(root, 'export', 'loop'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('walks directories in name order, takes a Maildir whole, and reports what it cannot use', async () => {
    const found: Source[] = [];
    for await (const source of findSources([join(root, 'export'), join(root, 'missing.eml')]))
      found.push(source);
    expect(
      found.map((source) => [
        source.path.slice(root.length + 1),
        'kind' in source ? source.kind : source.problem,
      ]),
    ).toEqual([
      ['export/Inbox', 'mbox'],
      ['export/Maildir', 'maildir'],
      ['export/a.ICS', 'ics'],
      ['export/loop', 'symbolic link (not followed inside a directory)'],
      ['export/notes.txt', 'not a recognised format (notes.txt)'],
      ['missing.eml', 'cannot read: ENOENT'],
    ]);
  });
});
