import type { EasApp } from '@easkit/server';
import { eas } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink, startReferenceServer, untilWaiting } from '../test/server.js';
import { EasClient, type EasClientOptions } from './client.js';
import type { SyncItem } from './commands/sync.js';
import { EasAuthError, EasRemoteWipeError } from './errors.js';
import { atLeast, type EasVersion, FolderType } from './protocol.js';
import type { FetchFunction } from './transport.js';

/** Registers the test only where it applies (a version without the feature has no such test, not a skipped one). */
const itWhen = (applies: boolean): typeof it => (applies ? it : ((() => {}) as unknown as typeof it));

const { Contacts: C } = eas;
const USER = 'demo@easkit.test';

let app: EasApp;
let sink: SmtpSink;
let endpoint: string;

beforeAll(async () => {
  sink = new SmtpSink();
  await sink.start();
  app = await startReferenceServer(sink);
  endpoint = `${app.running.url}/Microsoft-Server-ActiveSync`;
});
afterAll(async () => {
  await app?.close();
  await sink?.close();
});

const contact = (fileAs: string, first: string, last: string) => [
  C.FileAs(fileAs),
  C.FirstName(first),
  C.LastName(last),
  C.Email1Address(`${first.toLowerCase()}@example.test`),
];
const titles = (items: SyncItem[]) =>
  items.map((item) => item.data.fields.Subject ?? item.data.fields.FileAs);

const VARIANTS: { version: EasVersion; form: 'plain' | 'base64' }[] = [
  { version: '2.5', form: 'plain' },
  { version: '12.1', form: 'plain' },
  { version: '12.1', form: 'base64' },
  { version: '14.1', form: 'plain' },
  { version: '16.1', form: 'plain' },
  { version: '16.1', form: 'base64' },
];

describe.each(VARIANTS)('EAS $version, $form query, against the reference server', ({ version, form }) => {
  const tag = `${version.replace('.', '')}${form === 'base64' ? 'b' : 'p'}`;
  const device = (name: string, extra: Partial<EasClientOptions> = {}) =>
    EasClient.open({
      url: endpoint,
      credentials: { username: USER, password: 'pw' },
      protocolVersion: version,
      queryForm: form,
      deviceId: `${name}${tag}`,
      deviceType: 'TestPhone',
      deviceInformation: { model: 'Test', os: 'vitest', friendlyName: `${name} ${tag}` },
      ...extra,
    });
  let phone: EasClient;
  let tablet: EasClient;
  let contacts: string;

  it('negotiates the version, provisions in both phases and lists the folders', async () => {
    phone = await device('phone');
    const offered = await phone.connect();
    expect(offered.versions).toContain(version);
    expect(offered.commands).toContain('Sync');
    expect(phone.protocolVersion).toBe(version);
    const outcome = await phone.provision();
    expect(outcome.policyKey).toMatch(/^[1-9]\d*$/);
    if (version === '2.5') expect(outcome.wapDocument).toContain('wap-provisioningdoc');
    else expect(outcome.settings).toHaveProperty('DevicePasswordEnabled');
    const hierarchy = await phone.folderSync();
    expect(hierarchy.status).toBe(1);
    for (const type of [FolderType.Inbox, FolderType.Calendar, FolderType.Contacts, FolderType.Tasks]) {
      expect(phone.folder(type), `folder type ${type}`).toBeDefined();
    }
    contacts = phone.folder(FolderType.Contacts)!.serverId;
    // The same hierarchy again: nothing changed, the key moves on only when something does.
    const again = await phone.folderSync();
    expect(again.added).toEqual([]);
  });

  it('provisions by itself when the server asks (449 or Status 142) and retries the command', async () => {
    tablet = await device('tablet');
    const hierarchy = await tablet.folderSync();
    expect(hierarchy.status).toBe(1);
    expect(tablet.policyKey).toMatch(/^[1-9]\d*$/);
    expect(tablet.snapshot.folders.length).toBe(phone.folders.length);
  });

  it('syncs every class from key 0, following MoreAvailable', async () => {
    const expected: [number, string][] = [
      [FolderType.Inbox, 'Welcome to easkit'],
      [FolderType.Calendar, 'Weekly stand-up'],
      [FolderType.Contacts, 'Lovelace, Ada'],
      [FolderType.Tasks, 'Add this account to a second device'],
    ];
    if (atLeast(version, '14.0')) expected.push([FolderType.Notes, 'Shopping list']);
    for (const [type, title] of expected) {
      const folder = phone.folder(type)!;
      const outcome = await phone.syncCollection(folder.serverId, {
        windowSize: 1,
        bodyPreferences: [{ type: 1, truncationSize: 2000 }],
      });
      expect(outcome.status, folder.displayName).toBe(1);
      expect(titles(outcome.added), folder.displayName).toContain(title);
      expect(outcome.syncKey).not.toBe('0');
      expect(phone.snapshot.collections[folder.serverId]).toMatchObject({
        syncKey: outcome.syncKey,
        // The options are kept for the next Sync of this collection.
        options: { windowSize: 1, bodyPreferences: [{ type: 1, truncationSize: 2000 }] },
      });
    }
    // Window size 1 and two contacts: at least one MoreAvailable round after the priming one.
    const twoContacts = await tablet.syncCollection(contacts, { windowSize: 1 });
    expect(twoContacts.rounds).toBeGreaterThanOrEqual(3);
    expect(titles(twoContacts.added)).toEqual(expect.arrayContaining(['Lovelace, Ada', 'Turing, Alan']));
    const inbox = phone.folder(FolderType.Inbox)!.serverId;
    const welcome = await tablet.syncCollection(inbox, { bodyPreferences: [{ type: 1 }] });
    const body = welcome.added[0]!.data.body;
    expect(body?.data).toContain('served by the easkit reference server');
    if (atLeast(version, '12.0'))
      expect(welcome.added[0]!.data.attachments[0]?.displayName).toBe('readme.txt');
  });

  it('round-trips client changes to another device: Add with ClientId, Change, Delete', async () => {
    const added = await phone.syncCollection(contacts, {
      commands: [{ kind: 'add', clientId: `add-${tag}`, data: contact(`Hopper ${tag}`, 'Grace', 'Hopper') }],
    });
    const serverId = added.idMap[`add-${tag}`]!;
    expect(serverId).toBeDefined();
    expect(added.responses.added).toEqual([{ clientId: `add-${tag}`, serverId, status: 1 }]);
    let seen = await tablet.syncCollection(contacts);
    expect(titles(seen.added)).toEqual([`Hopper ${tag}`]);
    expect(seen.added[0]!.serverId).toBe(serverId);

    await phone.syncCollection(contacts, {
      commands: [{ kind: 'change', serverId, data: contact(`Hopper, Grace ${tag}`, 'Grace', 'Hopper') }],
    });
    seen = await tablet.syncCollection(contacts);
    expect(titles(seen.changed)).toEqual([`Hopper, Grace ${tag}`]);

    await phone.syncCollection(contacts, { commands: [{ kind: 'delete', serverId }] });
    seen = await tablet.syncCollection(contacts);
    expect(seen.deleted).toEqual([serverId]);
  });

  it('resends a Sync whose answer was lost with the same key: one item on the server, one id', async () => {
    let loseNextSync = false;
    let syncRequests = 0;
    const flaky: FetchFunction = async (input, init) => {
      const response = await fetch(input, init);
      if (init.method === 'POST' && (input.includes('Cmd=Sync') || form === 'base64')) {
        if (loseNextSync) {
          loseNextSync = false;
          await response.arrayBuffer();
          throw new TypeError('fetch failed: other side closed');
        }
      }
      return response;
    };
    const flakyPhone = await device('flaky', {
      fetch: flaky,
      onExchange: (record) => {
        if (record.command === 'Sync') syncRequests++;
      },
    });
    await flakyPhone.syncCollection(contacts);
    loseNextSync = true;
    syncRequests = 0;
    const outcome = await flakyPhone.syncCollection(contacts, {
      commands: [{ kind: 'add', clientId: `lost-${tag}`, data: contact(`Curie ${tag}`, 'Marie', 'Curie') }],
    });
    expect(syncRequests).toBe(2);
    expect(outcome.idMap[`lost-${tag}`]).toBeDefined();
    const seen = await tablet.syncCollection(contacts);
    expect(titles(seen.added)).toEqual([`Curie ${tag}`]);
    expect(seen.added[0]!.serverId).toBe(outcome.idMap[`lost-${tag}`]);
    expect((await flakyPhone.syncCollection(contacts)).added).toEqual([]);
  });

  it('sends mail through the relay: SendMail, SmartForward and SmartReply in the form of the version', async () => {
    const subject = `From EAS ${tag}`;
    const sent = await phone.sendMail({
      mime: `From: ${USER}\r\nTo: friend@remote.test\r\nSubject: ${subject}\r\nMessage-ID: <${tag}@easkit.test>\r\n\r\nHello over ${version}.\r\n`,
      saveInSentItems: true,
    });
    expect(sent.status).toBe(1);
    const delivered = sink.received.find((message) => message.message.includes(`Subject: ${subject}`));
    expect(delivered?.recipients).toEqual(['friend@remote.test']);
    expect(delivered?.message).toContain(`Hello over ${version}.`);

    const inbox = phone.folder(FolderType.Inbox)!.serverId;
    const welcome = (await tablet.syncCollection(inbox)).added;
    const original =
      welcome.find((item) => item.data.fields.Subject === 'Welcome to easkit') ??
      (await freshDevice()).find((item) => item.data.fields.Subject === 'Welcome to easkit');
    const forwarded = await phone.smartForward({
      mime: `From: ${USER}\r\nTo: friend@remote.test\r\nSubject: Fwd ${tag}\r\n\r\nHave a look.\r\n`,
      source: { collectionId: inbox, serverId: original!.serverId },
    });
    expect(forwarded.status).toBe(1);
    const forward = sink.received.find((message) => message.message.includes(`Subject: Fwd ${tag}`));
    expect(forward?.message).toContain('readme.txt');

    const replied = await phone.smartReply({
      mime: `From: ${USER}\r\nTo: friend@remote.test\r\nSubject: Re ${tag}\r\n\r\nThanks!\r\n`,
      source: { collectionId: inbox, serverId: original!.serverId },
    });
    expect(replied.status).toBe(1);
    const reply = sink.received.find((message) => message.message.includes(`Subject: Re ${tag}`));
    expect(reply?.message).toContain('Thanks!');
    // The server threads the reply onto the original.
    expect(reply?.message).toMatch(/^In-Reply-To: <welcome@easkit\.test>/m);

    async function freshDevice() {
      const reader = await device('reader');
      await reader.folderSync();
      return (await reader.syncCollection(inbox)).added;
    }
  });

  it('watches with Ping: a change on another device wakes it and the change is synced', async () => {
    await phone.syncCollection(contacts);
    const controller = new AbortController();
    const events = phone
      .watch({
        collections: [contacts],
        heartbeatInterval: 300,
        initialSync: 'skip',
        signal: controller.signal,
      })
      [Symbol.asyncIterator]();
    const first = events.next();
    await untilWaiting(app.running.url);
    const added = await tablet.syncCollection(contacts, {
      commands: [{ kind: 'add', clientId: `push-${tag}`, data: contact(`Lamarr ${tag}`, 'Hedy', 'Lamarr') }],
    });
    const next = await first;
    const event = next.done ? undefined : next.value;
    expect(event?.kind).toBe('changes');
    if (event?.kind !== 'changes') return;
    expect(event.folder?.serverId).toBe(contacts);
    expect(event.outcome.added.map((item) => item.serverId)).toEqual([added.idMap[`push-${tag}`]]);
    controller.abort();
    await events.return(undefined);
  });

  it('answers a remote wipe through the callback and forgets its state', async () => {
    const kinds: string[] = [];
    const stolen = await device('stolen', {
      onWipe: (kind) => {
        kinds.push(kind);
        return true;
      },
    });
    await stolen.folderSync();
    await stolen.syncCollection(contacts);
    await app.administration.as('test').wipe(USER, stolen.deviceId);
    await expect(stolen.syncCollection(contacts)).rejects.toBeInstanceOf(EasRemoteWipeError);
    expect(kinds).toEqual(['device']);
    expect(stolen.policyKey).toBeUndefined();
    expect(stolen.snapshot.collections).toEqual({});
    const record = await app.stores.devices.getDevice(USER, stolen.deviceId);
    expect(record?.wipe.state).toBe('acknowledged');
  });

  itWhen(version === '16.1')('answers an account-only wipe (16.1) with its own acknowledgement', async () => {
    const kinds: string[] = [];
    const lost = await device('accountonly', {
      onWipe: (kind) => {
        kinds.push(kind);
        return true;
      },
    });
    await lost.folderSync();
    await app.administration.as('test').accountOnlyWipe(USER, lost.deviceId);
    const outcome = await lost.provision();
    expect(outcome.wiped).toBe('account');
    expect(kinds).toEqual(['account']);
    const record = await app.stores.devices.getDevice(USER, lost.deviceId);
    expect(record?.wipe.state).toBe('acknowledged');
  });
});

describe('errors', () => {
  it('a refused password is an EasAuthError from OPTIONS', async () => {
    const client = await EasClient.open({
      url: endpoint,
      credentials: { username: USER, password: 'wrong' },
    });
    await expect(client.connect()).rejects.toBeInstanceOf(EasAuthError);
  });
});
