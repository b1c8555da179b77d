import type { EasApp } from '@easkit/server';
import { eas } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink, startReferenceServer, untilWaiting } from '../test/server.js';
import { EasClient } from './client.js';
import { atLeast, type EasVersion, FolderType } from './protocol.js';
import { MemoryDeviceState } from './state.js';

/** Registers the test only where it applies (a version without the feature has no such test, not a skipped one). */
const itWhen = (applies: boolean): typeof it => (applies ? it : ((() => {}) as unknown as typeof it));

const USER = 'demo@easkit.test';

let app: EasApp;
let sink: SmtpSink;

beforeAll(async () => {
  sink = new SmtpSink();
  await sink.start();
  app = await startReferenceServer(sink);
});
afterAll(async () => {
  await app?.close();
  await sink?.close();
});

function invitation(uid: string, subject: string): string {
  const start = new Date(Date.now() + 3 * 24 * 3600 * 1000);
  const stamp = (date: Date) => `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
  return [
    `From: Boss <boss@remote.test>`,
    `To: ${USER}`,
    `Subject: ${subject}`,
    `Message-ID: <${uid}@remote.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/calendar; method=REQUEST; charset=utf-8',
    '',
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//easkit tests//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'SEQUENCE:0',
    `DTSTAMP:${stamp(new Date())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(new Date(start.getTime() + 3600 * 1000))}`,
    `SUMMARY:${subject}`,
    'ORGANIZER;CN=Boss:mailto:boss@remote.test',
    `ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:${USER}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

describe.each(['2.5', '12.1', '14.1', '16.1'] as EasVersion[])('the other commands at EAS %s', (version) => {
  const tag = version.replace('.', '');
  let client: EasClient;
  let inbox: string;
  let deleted: string;
  const open = (deviceId: string) =>
    EasClient.open({
      url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      credentials: { username: USER, password: 'pw' },
      protocolVersion: version,
      deviceId,
    });

  beforeAll(async () => {
    client = await open(`cmds${tag}`);
    await client.folderSync();
    inbox = client.folder(FolderType.Inbox)!.serverId;
    deleted = client.folder(FolderType.DeletedItems)!.serverId;
    await client.syncCollection(inbox);
    await client.syncCollection(deleted);
  });

  itWhen(atLeast(version, '12.1'))(
    'a hanging Sync (Wait or HeartbeatInterval) answers when another device adds an item',
    async () => {
      const contacts = client.folder(FolderType.Contacts)!.serverId;
      await client.syncCollection(contacts);
      const hanging = client.sync(
        [{ collectionId: contacts }],
        atLeast(version, '14.0') ? { heartbeatInterval: 300 } : { wait: 5 },
      );
      await untilWaiting(app.running.url);
      const other = await open(`hang${tag}`);
      await other.folderSync();
      const made = await other.syncCollection(contacts, {
        commands: [{ kind: 'add', clientId: 'hang-1', data: [eas.Contacts.FileAs(`Noether ${tag}`)] }],
      });
      const result = await hanging;
      expect(result.collections[0]?.added.map((item) => item.serverId)).toEqual([made.idMap['hang-1']]);
      expect(client.snapshot.collections[contacts]?.syncKey).toBe(result.collections[0]?.syncKey);
    },
  );

  it('starts a collection again from 0 when the server does not know its key (Status 3)', async () => {
    const state = new MemoryDeviceState();
    const lost = await EasClient.open({
      url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      credentials: { username: USER, password: 'pw' },
      protocolVersion: version,
      deviceId: `badkey${tag}`,
      state,
    });
    await lost.folderSync();
    const snapshot = lost.snapshot;
    snapshot.collections[inbox] = { syncKey: '{not-a-key}', class: 'Email' };
    await state.save(snapshot);
    const reopened = await EasClient.open({
      url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      credentials: { username: USER, password: 'pw' },
      state,
    });
    const outcome = await reopened.syncCollection(inbox);
    expect(outcome.resynced).toBe(true);
    expect(outcome.status).toBe(1);
    expect(outcome.added.map((item) => item.data.fields.Subject)).toContain('Welcome to easkit');
  });

  it('watch follows the server when the heartbeat is out of range (Ping Status 5)', async () => {
    const controller = new AbortController();
    const events = client.watch({
      collections: [inbox],
      heartbeatInterval: 5,
      initialSync: 'skip',
      signal: controller.signal,
    });
    const first = await events.next();
    expect(first.value).toEqual({ kind: 'heartbeat-adjusted', heartbeatInterval: 60 });
    controller.abort();
    await events.return(undefined);
  });

  it('GetItemEstimate counts what the next Sync would bring', async () => {
    const [estimate] = await client.getItemEstimate([{ collectionId: inbox, filterType: 0 }]);
    expect(estimate).toMatchObject({ collectionId: inbox, status: 1, estimate: 0 });
  });

  it('fetches an attachment by its reference (GetAttachment before 12.0, ItemOperations after)', async () => {
    const fresh = await open(`attach${tag}`);
    await fresh.folderSync();
    const welcome = (await fresh.syncCollection(inbox, { bodyPreferences: [{ type: 1 }] })).added.find(
      (item) => item.data.fields.Subject === 'Welcome to easkit',
    )!;
    const reference = welcome.data.attachments[0]?.fileReference;
    expect(reference).toBeDefined();
    const attachment = await fresh.getAttachment(reference!);
    expect(new TextDecoder().decode(attachment.bytes)).toBe('An attachment, fetched by reference.\n');
    if (atLeast(version, '12.0')) {
      const fetched = await fresh.itemOperations([
        { collectionId: inbox, serverId: welcome.serverId, bodyPreferences: [{ type: 1 }] },
      ]);
      expect(fetched.status).toBe(1);
      expect(fetched.fetches[0]?.data?.fields.Subject).toBe('Welcome to easkit');
      expect(fetched.fetches[0]?.data?.body?.data).toContain('served by the easkit reference server');
    }
  });

  it('MoveItems moves a delivered message and reports its new id', async () => {
    const sent = await client.sendMail({
      mime: `From: ${USER}\r\nTo: ${USER}\r\nSubject: Move me ${tag}\r\n\r\nto the bin\r\n`,
    });
    expect(sent.status).toBe(1);
    const arrived = (await client.syncCollection(inbox)).added.find(
      (item) => item.data.fields.Subject === `Move me ${tag}`,
    )!;
    const [moved] = await client.moveItems([
      { serverId: arrived.serverId, fromCollectionId: inbox, toCollectionId: deleted },
    ]);
    expect(moved?.status).toBe(3);
    // The moving device is not told about its own move; another device sees the item in Deleted Items.
    const other = await open(`mover${tag}`);
    await other.folderSync();
    const inBin = await other.syncCollection(deleted);
    expect(inBin.added.map((item) => item.serverId)).toContain(moved?.newServerId);
  });

  it('Search finds people in the GAL and, from 12.0, messages in the mailbox', async () => {
    // The reference server's GAL can be empty (its directory needs a store that lists users): only the shape.
    const people = await client.search({ store: 'GAL', query: 'demo' });
    expect(people.status).toBe(1);
    expect(people.storeStatus).toBe(1);
    if (atLeast(version, '12.0')) {
      const mail = await client.search({
        store: 'Mailbox',
        freeText: 'Welcome',
        collectionId: inbox,
        class: 'Email',
      });
      expect(mail.status).toBe(1);
      expect(mail.results[0]?.data.fields.Subject).toBe('Welcome to easkit');
      expect(mail.results[0]?.longId).toBeDefined();
    }
  });

  it('ResolveRecipients resolves an address from the contacts', async () => {
    const resolved = await client.resolveRecipients(['ada@example.test', 'nobody-at-all@nowhere.test']);
    expect(resolved.status).toBe(1);
    expect(resolved.responses[0]).toMatchObject({ to: 'ada@example.test', status: 1 });
    expect(resolved.responses[0]?.recipients[0]).toMatchObject({ type: 2, emailAddress: 'ada@example.test' });
    expect(resolved.responses[1]?.status).toBe(4);
  });

  itWhen(atLeast(version, '12.0'))(
    'Settings: user information, out of office set and read back',
    async () => {
      const information = await client.settings({
        userInformation: true,
        deviceInformation: { model: 'Test', os: 'vitest' },
      });
      expect(information.status).toBe(1);
      expect(information.userInformation?.emailAddresses).toContain(USER);
      expect(information.deviceInformationStatus).toBe(1);
      const set = await client.settings({
        oof: { set: { state: 1, messages: [{ audience: 'internal', enabled: true, reply: `Away ${tag}` }] } },
      });
      expect(set.oof?.status).toBe(1);
      const read = await client.settings({ oof: { get: 'Text' } });
      expect(read.oof?.settings?.state).toBe(1);
      expect(read.oof?.settings?.messages.find((message) => message.audience === 'internal')?.reply).toBe(
        `Away ${tag}`,
      );
    },
  );

  it('MeetingResponse accepts a meeting request from the Inbox', async () => {
    const sent = await client.sendMail({ mime: invitation(`meet-${tag}`, `Planning ${tag}`) });
    expect(sent.status).toBe(1);
    const request = (await client.syncCollection(inbox)).added.find(
      (item) => item.data.fields.Subject === `Planning ${tag}`,
    )!;
    expect(request.data.fields.MessageClass).toBe('IPM.Schedule.Meeting.Request');
    const [result] = await client.meetingResponse([
      { userResponse: 1, source: { collectionId: inbox, requestId: request.serverId } },
    ]);
    expect(result).toMatchObject({ requestId: request.serverId, status: 1 });
    expect(result?.calendarId).toBeDefined();
  });
});
