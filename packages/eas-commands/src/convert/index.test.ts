import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ITEM_CLASSES, type ItemData, type StoredItem } from '@easkit/mailbox';
import { eas, encode, PROTOCOL_VERSIONS, type ProtocolVersion } from '@easkit/wbxml';
import { afterAll, describe, expect, it } from 'vitest';
import { tagsOutsideVersion, testMailbox } from '../../test/convert-helpers.js';
import { libwbxmlAvailable } from '../../test/harness.js';
import { CONVERTERS } from './index.js';
import { atLeast } from './version.js';

const samples: ItemData[] = [
  {
    class: 'Email',
    data: {
      mime: new TextEncoder().encode('From: a@x\r\nSubject: hi\r\n\r\nhello\r\n'),
      from: { address: 'a@x' },
      to: [{ name: 'B', address: 'b@x' }],
      subject: 'hi',
      dateReceived: new Date('2026-01-05T09:00:00Z'),
      read: false,
      messageClass: 'IPM.Note',
      flag: { status: 2, dueDate: new Date('2026-01-06T00:00:00Z') },
      categories: ['Work'],
      conversationId: new Uint8Array(16).fill(7),
    },
  },
  {
    class: 'Calendar',
    data: {
      startTime: new Date('2026-01-05T09:00:00Z'),
      endTime: new Date('2026-01-05T10:00:00Z'),
      subject: 'Sync',
      location: { displayName: 'Room 1' },
      attendees: [{ email: 'b@x', name: 'B', status: 3, type: 1 }],
      recurrence: { type: 1, dayOfWeek: 2, occurrences: 10 },
      exceptions: [{ exceptionStartTime: new Date('2026-01-12T09:00:00Z'), deleted: true }],
      body: { type: 'plain', data: 'agenda' },
    },
  },
  {
    class: 'Contacts',
    data: {
      firstName: 'Ada',
      lastName: 'Lovelace',
      birthday: new Date('1815-12-10T00:00:00Z'),
      businessAddress: { city: 'London' },
      nickName: 'Ada',
      children: ['Byron'],
      picture: new Uint8Array([1, 2, 3]),
    },
  },
  {
    class: 'Tasks',
    data: { subject: 'Taxes', complete: false, dueDate: new Date('2026-04-15T00:00:00Z'), importance: 1 },
  },
  { class: 'Notes', data: { subject: 'Note', body: { type: 'plain', data: 'text' }, categories: ['Home'] } },
];

const scratch = mkdtempSync(join(tmpdir(), 'easkit-convert-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** One Sync response with an Add per class, rendered for `version`. */
async function syncResponse(version: ProtocolVersion): Promise<Uint8Array> {
  const box = await testMailbox();
  const AS = eas.AirSync;
  const adds = [];
  for (const sample of samples) {
    if (sample.class === 'Notes' && !atLeast(version, '14.0')) continue;
    const item = await box.add(sample);
    const children = await CONVERTERS[sample.class].toApplicationData(
      item as never,
      box.context(item as StoredItem, version, { bodyPreferences: [{ type: 1, truncationSize: 512 }] }),
    );
    expect(tagsOutsideVersion(children, version), `${sample.class} at ${version}`).toEqual([]);
    adds.push(AS.Add(AS.ServerId(item.id), AS.ApplicationData(children)));
  }
  return encode(
    AS.Sync(
      AS.Collections(AS.Collection(AS.SyncKey('2'), AS.CollectionId('1'), AS.Status(1), AS.Commands(adds))),
    ),
  );
}

describe('CONVERTERS', () => {
  it('has the converter of every class under its name', () => {
    expect(Object.keys(CONVERTERS).sort()).toEqual([...ITEM_CLASSES].sort());
    for (const cls of ITEM_CLASSES) expect(CONVERTERS[cls].class).toBe(cls);
  });

  for (const version of PROTOCOL_VERSIONS) {
    it(`renders every class at ${version} within the version's tags, and encodes`, async () => {
      expect((await syncResponse(version)).byteLength).toBeGreaterThan(0);
    });
  }

  it('produces documents libwbxml decodes without unknown tags (2.5-16.1)', async () => {
    if (!(await libwbxmlAvailable())) return;
    for (const version of PROTOCOL_VERSIONS) {
      const file = join(scratch, `sync-${version}.wbxml`);
      writeFileSync(file, await syncResponse(version));
      const xml = execFileSync('wbxml2xml', ['-l', 'ACTIVESYNC', '-o', '-', file], { encoding: 'utf8' });
      expect(xml, version).toContain('ApplicationData');
      expect(xml, version).not.toMatch(/unknown/i);
    }
  });
});
