import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Folder, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { InProcessPushBus } from '@easkit/push';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import fc from 'fast-check';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  authenticateTestUsers,
  expectLibwbxmlReadsAll,
  STANDARD_FOLDERS,
  TestDevice,
  type TestServer,
  USERS,
} from '../../test/harness.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import { createEasCommands } from './index.js';
import { deliverMessage, InboxCache, localDeliverySubmitter } from './local-delivery.js';
import { type MailSubmitter, smtpSubmitter } from './mail-submitter.js';
import type { SendMailOptions } from './send-mail.js';

const { ComposeMail: CM, AirSync: AS } = eas;
const ALICE = USERS.alice.id;
const BOB = USERS.bob.id;

/** Every WBXML response of this file, for the libwbxml check at the end. */
const responses: Uint8Array[] = [];

const encodeMime = (headers: string, text = 'Hello there.\r\n') =>
  new TextEncoder().encode(`${headers.trim().replace(/\r?\n/g, '\r\n')}\r\n\r\n${text}`);

const ORIGINAL = encodeMime(
  `From: Carol <carol@example.net>
To: alice@example.com
Subject: Quarterly numbers
Message-ID: <orig-1@example.net>
Date: Mon, 02 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"`,
  `--b1\r
Content-Type: text/plain; charset=utf-8\r
\r
The numbers are attached.\r
--b1\r
Content-Type: application/octet-stream; name="q3.bin"\r
Content-Disposition: attachment; filename="q3.bin"\r
Content-Transfer-Encoding: base64\r
\r
AAECAwQF/wABAgMEBf8AAQIDBAX/AAECAwQF/w==\r
--b1--\r
`,
);

/** A real SMTP server on 127.0.0.1 that keeps what it receives and refuses recipients at `refused.example`. */
class SmtpSink {
  readonly received: { recipients: string[]; message: string }[] = [];
  port = 0;
  #server: SMTPServer | undefined;

  async start(): Promise<this> {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo: (address, _session, callback) =>
        callback(address.address.endsWith('@refused.example') ? new Error('no such user') : undefined),
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push({
            recipients: session.envelope.rcptTo.map((entry) => entry.address),
            message: Buffer.concat(chunks).toString('latin1'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

/** An EAS endpoint whose SendMail delivers locally (bob has an alias), optionally relaying the rest. */
class LocalServer {
  readonly mailbox = new MemoryMailboxStore();
  readonly folders = new Map<string, Folder>();
  readonly responses = responses;
  readonly errors: unknown[] = [];
  #server: Server | undefined;
  url = '';

  constructor(
    readonly relay?: MailSubmitter & { close?(): void },
    readonly sendMail: SendMailOptions = {},
  ) {}

  async start(): Promise<this> {
    await this.mailbox.createUser({ id: ALICE, primarySmtpAddress: ALICE });
    await this.mailbox.createUser({ id: BOB, primarySmtpAddress: BOB, aliases: ['robert@example.com'] });
    for (const [name, id] of [
      ['alice', ALICE],
      ['bob', BOB],
    ] as const) {
      for (const folder of STANDARD_FOLDERS) {
        const created = await this.mailbox.createFolder(id, { ...folder, parentId: ROOT_FOLDER_ID });
        this.folders.set(`${name}:${folder.displayName}`, created);
      }
    }
    const submitter = localDeliverySubmitter({
      mailbox: this.mailbox,
      ...(this.relay ? { relay: this.relay } : {}),
      onError: (error) => this.errors.push(error),
    });
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: createEasCommands(
        { mailbox: this.mailbox, syncState: new MemorySyncStateStore(), submitter },
        { sendMail: this.sendMail },
      ),
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 4 * 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.relay?.close?.();
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  folder(user: 'alice' | 'bob', name: string): Folder {
    return this.folders.get(`${user}:${name}`)!;
  }

  async items(user: 'alice' | 'bob', name: string) {
    const page = await this.mailbox.changes(USERS[user].id, this.folder(user, name).id, 0, 1000);
    return page.changes.flatMap((change) => (change.kind === 'delete' ? [] : [change.item]));
  }

  device(user: 'alice' | 'bob', version: ProtocolVersion): TestDevice {
    return new TestDevice(this as unknown as TestServer, USERS[user], `${user}-${version}`, version);
  }
}

async function postRaw(
  server: LocalServer,
  command: string,
  version: ProtocolVersion,
  mime: Uint8Array,
  query = '',
) {
  const url = `${server.url}/Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(ALICE)}&DeviceId=legacy1&DeviceType=TestPhone${query}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${ALICE}:${USERS.alice.password}`).toString('base64')}`,
      'MS-ASProtocolVersion': version,
      'Content-Type': 'message/rfc822',
    },
    body: mime,
  });
  await response.arrayBuffer();
  return response.status;
}

/** The ComposeMail status of a 14.0+ answer: undefined for the empty success body. */
function statusOf(reply: { body: WbxmlElement | undefined }): number | undefined {
  return reply.body?.intOf('Status');
}

/** A memory mailbox holding BOB with an Inbox. */
async function bobWithInbox() {
  const mailbox = new MemoryMailboxStore();
  await mailbox.createUser({ id: BOB, primarySmtpAddress: BOB });
  const inbox = await mailbox.createFolder(BOB, { parentId: ROOT_FOLDER_ID, displayName: 'Inbox', type: 2 });
  return { mailbox, inbox };
}

describe('deliverMessage', () => {
  it('files the message in the Inbox with the header fields, runs hooks in order and publishes the change', async () => {
    const { mailbox, inbox } = await bobWithInbox();
    const bus = new InProcessPushBus();
    const published: string[][] = [];
    const unsubscribe = await bus.subscribe(BOB, (event) => {
      published.push([...event.folderIds]);
    });
    const calls: string[] = [];
    const errors: unknown[] = [];
    const item = await deliverMessage(
      mailbox,
      BOB,
      encodeMime(`From: "Carol C." <carol@example.net>
Sender: list@example.net
To: alice@example.com
Cc: dave@example.org
Subject: =?utf-8?B?UmU6IEdyw7zDn2U=?=
Importance: high
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="s"`),
      {
        bus,
        recipient: BOB,
        now: () => new Date('2026-11-25T12:00:00Z'),
        onError: (error) => errors.push(error),
        hooks: [
          {
            prepare(data, context) {
              calls.push(`prepare ${context.user.id}`);
              return { ...data, categories: ['hooked'] };
            },
            onDelivered(delivered) {
              calls.push(`delivered ${delivered.folderId}`);
              throw new Error('hook broke');
            },
          },
          {
            onDelivered: () => {
              calls.push('second');
            },
          },
        ],
      },
    );
    unsubscribe();
    expect(item.folderId).toBe(inbox.id);
    expect(item.data).toMatchObject({
      from: { name: 'Carol C.', address: 'carol@example.net' },
      sender: { address: 'list@example.net' },
      to: [{ address: 'alice@example.com' }],
      cc: [{ address: 'dave@example.org' }],
      subject: 'Re: Grüße',
      threadTopic: 'Grüße',
      importance: 2,
      read: false,
      receivedAsBcc: true,
      messageClass: 'IPM.Note.SMIME.MultipartSigned',
      categories: ['hooked'],
      dateReceived: new Date('2026-11-25T12:00:00Z'),
    });
    expect(item.data.conversationId).toHaveLength(16);
    expect(calls).toEqual([`prepare ${BOB}`, `delivered ${inbox.id}`, 'second']);
    expect(errors).toHaveLength(1);
    expect(published).toEqual([[inbox.id]]);
  });

  it('lets `file` take over filing (as meeting delivery does) and publishes the folder it filed into', async () => {
    const { mailbox } = await bobWithInbox();
    const other = await mailbox.createFolder(BOB, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Meetings',
      type: 12,
    });
    const bus = new InProcessPushBus();
    const published: string[][] = [];
    const unsubscribe = await bus.subscribe(BOB, (event) => {
      published.push([...event.folderIds]);
    });
    const item = await deliverMessage(mailbox, BOB, encodeMime('From: carol@example.net\nSubject: Invite'), {
      bus,
      file: (email, context) =>
        context.mailbox.createItem(context.user.id, other.id, {
          class: 'Email',
          data: { ...email, messageClass: 'IPM.Schedule.Meeting.Request' },
        }),
    });
    unsubscribe();
    expect(item).toMatchObject({
      folderId: other.id,
      data: { messageClass: 'IPM.Schedule.Meeting.Request' },
    });
    expect(published).toEqual([[other.id]]);
  });

  it('refuses unreadable, oversized and bomb-shaped messages before filing anything', async () => {
    const { mailbox, inbox } = await bobWithInbox();
    await expect(deliverMessage(mailbox, BOB, new Uint8Array(0))).rejects.toThrow(/header/);
    await expect(
      deliverMessage(mailbox, BOB, encodeMime('Subject: big', 'x'.repeat(2000)), { maxBytes: 1000 }),
    ).rejects.toThrow(/larger/);
    await expect(deliverMessage(mailbox, BOB, nestedMultipart(150))).rejects.toThrow(/boundaries/);
    await expect(deliverMessage(mailbox, 'nobody@example.com', encodeMime('Subject: x'))).rejects.toThrow();
    expect((await mailbox.changes(BOB, inbox.id, 0, 10)).changes).toHaveLength(0);
  });
});

describe('deliverMessage with an InboxCache', () => {
  it('lists the folders once per user, and again only when the remembered Inbox is gone', async () => {
    const { mailbox, inbox } = await bobWithInbox();
    const lists = vi.spyOn(mailbox, 'listFolders');
    const inboxes = new InboxCache();
    for (const subject of ['one', 'two', 'three']) {
      await deliverMessage(mailbox, BOB, encodeMime(`Subject: ${subject}`), { inboxes });
    }
    expect(lists).toHaveBeenCalledTimes(1);
    expect(inboxes.get(BOB)?.id).toBe(inbox.id);

    inboxes.remember(BOB, { ...inbox, id: 'f999' }); // as if the Inbox had been replaced since
    const filed = await deliverMessage(mailbox, BOB, encodeMime('Subject: four'), { inboxes });
    expect(filed.folderId).toBe(inbox.id);
    expect(lists).toHaveBeenCalledTimes(2);
    expect(inboxes.get(BOB)?.id).toBe(inbox.id);
    expect((await mailbox.changes(BOB, inbox.id, 0, 10)).changes).toHaveLength(4);
  });

  it('is bounded and forgets entries after ttlMs', () => {
    let now = 0;
    const inboxes = new InboxCache({ maxEntries: 2, ttlMs: 1000, now: () => now });
    const folder = (id: string) => ({ id, parentId: ROOT_FOLDER_ID, displayName: 'Inbox', type: 2 as const });
    inboxes.remember('a', folder('1'));
    inboxes.remember('b', folder('2'));
    inboxes.remember('c', folder('3'));
    expect([inboxes.get('a'), inboxes.get('b')?.id, inboxes.get('c')?.id]).toEqual([undefined, '2', '3']);
    expect(inboxes.size).toBe(2);
    now = 1000;
    expect(inboxes.get('b')).toBeUndefined();
    expect(() => new InboxCache({ maxEntries: 0 })).toThrow(RangeError);
  });
});

/** A message of `depth` multiparts nested in one another. */
function nestedMultipart(depth: number): Uint8Array {
  let open = '';
  let close = '';
  for (let level = 0; level < depth; level++) {
    open += `Content-Type: multipart/mixed; boundary="b${level}"\r\n\r\n--b${level}\r\n`;
    close = `\r\n--b${level}--\r\n${close}`;
  }
  return new TextEncoder().encode(
    `From: alice@example.com\r\nTo: bob@example.com\r\nSubject: deep\r\n${open}Content-Type: text/plain\r\n\r\nhi${close}`,
  );
}

describe('SendMail, SmartForward with local delivery, over HTTP', () => {
  let server: LocalServer;
  beforeEach(async () => {
    server = await new LocalServer().start();
  });
  afterEach(() => server.stop());

  for (const version of ['14.1', '16.1'] as const) {
    it(`${version}: delivers to a user by alias and by address once, Bcc included; the recipient's device syncs it`, async () => {
      const alice = server.device('alice', version);
      const message = encodeMime(`From: alice@example.com
To: Robert <robert@example.com>
Cc: bob@example.com
Bcc: bob@example.com
Subject: Lunch`);
      const reply = await alice.send(
        'SendMail',
        CM.SendMail(CM.ClientId(`c-${version}`), CM.SaveInSentItems(), CM.Mime(message)),
      );
      expect(reply.status).toBe(200);
      expect(reply.body).toBeUndefined();
      const delivered = await server.items('bob', 'Inbox');
      expect(delivered).toHaveLength(1);
      expect(delivered[0]!.data).toMatchObject({ subject: 'Lunch', read: false });
      expect(new TextDecoder().decode((delivered[0]!.data as { mime: Uint8Array }).mime)).not.toMatch(
        /^Bcc:/im,
      );
      expect(await server.items('alice', 'Sent Items')).toHaveLength(1);

      // Bob's phone sees it through Sync.
      const bob = server.device('bob', version);
      const inbox = server.folder('bob', 'Inbox').id;
      const sync = (key: string) =>
        bob.send('Sync', AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox)))));
      const first = await sync('0');
      const key = first.body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!;
      const second = await sync(key);
      const add = second.body!.child('Collections')!.child('Collection')!.child('Commands')!.child('Add')!;
      expect(add.child('ApplicationData')!.textOf('Email:Subject')).toBe('Lunch');
    });
  }

  it('14.1: an unknown address of a local domain gets 116, a remote one without relay 116; nothing is delivered', async () => {
    const alice = server.device('alice', '14.1');
    for (const [clientId, to] of [
      ['u1', 'bob@example.com, nobody@example.com'],
      ['u2', 'bob@example.com, someone@elsewhere.org'],
    ] as const) {
      const reply = await alice.send(
        'SendMail',
        CM.SendMail(
          CM.ClientId(clientId),
          CM.SaveInSentItems(),
          CM.Mime(encodeMime(`To: ${to}\nSubject: x`)),
        ),
      );
      expect(statusOf(reply)).toBe(116);
    }
    expect(await server.items('bob', 'Inbox')).toHaveLength(0);
    expect(await server.items('alice', 'Sent Items')).toHaveLength(0);
    // The same ClientId may be sent again once the recipients are fixed.
    const retried = await alice.send(
      'SendMail',
      CM.SendMail(CM.ClientId('u1'), CM.Mime(encodeMime('To: bob@example.com\nSubject: x'))),
    );
    expect(retried.body).toBeUndefined();
    expect(await server.items('bob', 'Inbox')).toHaveLength(1);
  });

  it('12.1: raw MIME SendMail delivers locally; an unknown local recipient is HTTP 400', async () => {
    expect(
      await postRaw(
        server,
        'SendMail',
        '12.1',
        encodeMime('To: robert@example.com\nSubject: legacy'),
        '&SaveInSent=T',
      ),
    ).toBe(200);
    expect(await server.items('bob', 'Inbox')).toHaveLength(1);
    expect(await postRaw(server, 'SendMail', '12.1', encodeMime('To: ghost@example.com\nSubject: x'))).toBe(
      400,
    );
    expect(await server.items('bob', 'Inbox')).toHaveLength(1);
  });

  it('16.1: SmartForward to a local user carries the original byte for byte, its attachment included', async () => {
    const original = await server.mailbox.createItem(ALICE, server.folder('alice', 'Inbox').id, {
      class: 'Email',
      data: {
        mime: ORIGINAL,
        subject: 'Quarterly numbers',
        dateReceived: new Date('2026-11-02T10:00:00Z'),
        read: true,
        messageClass: 'IPM.Note',
      },
    });
    const alice = server.device('alice', '16.1');
    const reply = await alice.send(
      'SmartForward',
      CM.SmartForward(
        CM.ClientId('fw1'),
        CM.Source(CM.FolderId(original.folderId), CM.ItemId(original.id)),
        CM.Mime(encodeMime('To: bob@example.com\nSubject: Fw: Quarterly numbers', 'FYI\r\n')),
      ),
    );
    expect(reply.body).toBeUndefined();
    const [forwarded] = await server.items('bob', 'Inbox');
    if (forwarded?.class !== 'Email') throw new Error('no forward delivered');
    // The forward's message/rfc822 part is the original message, byte for byte, as transmitted.
    const raw = Buffer.from(forwarded.data.mime);
    const at = raw.indexOf(Buffer.from(ORIGINAL));
    expect(at).toBeGreaterThan(0);
    expect(raw.subarray(0, at).toString('latin1')).toMatch(
      /Content-Type: message\/rfc822\r\n[\s\S]*\r\n\r\n$/,
    );
    expect(raw.subarray(at + ORIGINAL.byteLength).toString('latin1')).toMatch(/^\r\n--/);
    const embedded = forwarded.data.attachments!.find((attachment) => attachment.method === 5)!;
    const eml = await server.mailbox.readAttachment(BOB, embedded.fileReference);
    // And the original's own attachment, read out of it, is the same bytes as read from the original.
    const again = await deliverMessage(server.mailbox, BOB, eml.data);
    const inner = await server.mailbox.readAttachment(BOB, again.data.attachments![0]!.fileReference);
    const source = original.class === 'Email' ? original.data.attachments![0]!.fileReference : '';
    const expected = await server.mailbox.readAttachment(ALICE, source);
    expect(inner.data.byteLength).toBe(28);
    expect(Buffer.from(inner.data).equals(Buffer.from(expected.data))).toBe(true);

    // Bob cannot forward Alice's message: 150, nothing sent.
    const bob = server.device('bob', '16.1');
    const foreign = await bob.send(
      'SmartForward',
      CM.SmartForward(
        CM.ClientId('fw2'),
        CM.Source(CM.ItemId(original.id)),
        CM.Mime(encodeMime('To: alice@example.com\nSubject: Fw', 'x\r\n')),
      ),
    );
    expect(statusOf(foreign)).toBe(150);
    expect(await server.items('alice', 'Inbox')).toHaveLength(1);
  });

  it('14.1: SmartReply is threaded (In-Reply-To, References) and reaches the local sender', async () => {
    const original = await server.mailbox.createItem(ALICE, server.folder('alice', 'Inbox').id, {
      class: 'Email',
      data: {
        mime: encodeMime(`From: bob@example.com
To: alice@example.com
Subject: Question
Message-ID: <q-2@example.com>
References: <q-0@example.com> <q-1@example.com>`),
        subject: 'Question',
        dateReceived: new Date(),
        read: true,
        messageClass: 'IPM.Note',
      },
    });
    const reply = await server
      .device('alice', '14.1')
      .send(
        'SmartReply',
        CM.SmartReply(
          CM.ClientId('r1'),
          CM.Source(CM.ItemId(original.id)),
          CM.Mime(encodeMime('To: bob@example.com\nSubject: Re: Question', 'Answer.\r\n')),
        ),
      );
    expect(reply.body).toBeUndefined();
    const [received] = await server.items('bob', 'Inbox');
    const text = new TextDecoder().decode((received!.data as { mime: Uint8Array }).mime);
    expect(text).toMatch(/^In-Reply-To: <q-2@example\.com>\r?$/m);
    expect(text).toMatch(/^References: <q-0@example\.com> <q-1@example\.com> <q-2@example\.com>\r?$/m);
    expect(received!.data).toMatchObject({ threadTopic: 'Question' });
  });

  it('14.1: hostile MIME gets its status and nothing is sent: nested multiparts and huge headers 107, bad addresses 119', async () => {
    const alice = server.device('alice', '14.1');
    const send = (clientId: string, mime: Uint8Array) =>
      alice.send('SendMail', CM.SendMail(CM.ClientId(clientId), CM.SaveInSentItems(), CM.Mime(mime)));
    expect(statusOf(await send('h1', nestedMultipart(5000)))).toBe(107);
    const hugeHeader = encodeMime(`To: bob@example.com\nSubject: ${'x'.repeat(300 * 1024)}`);
    expect(statusOf(await send('h2', hugeHeader))).toBe(107);
    const manyHeaders = encodeMime(`To: bob@example.com\n${'X-Junk: y\n'.repeat(40_000)}Subject: x`);
    expect(statusOf(await send('h3', manyHeaders))).toBe(107);
    const badAddresses = encodeMime('To: not an address, @@@, <>, "x" <y@>\nCc: ;;;\nSubject: x');
    expect(statusOf(await send('h4', badAddresses))).toBe(119);
    expect(await server.items('bob', 'Inbox')).toHaveLength(0);
    expect(await server.items('alice', 'Sent Items')).toHaveLength(0);
  });

  it('14.1: generated messages get a ComposeMail status or are delivered; never a server error', async () => {
    const alice = server.device('alice', '14.1');
    const headerLine = fc.oneof(
      fc.constant('To: bob@example.com'),
      fc.constant('To: robert@example.com, ghost@example.com'),
      fc.string({ maxLength: 40 }).map((text) => `To: ${text.replace(/[\r\n]/g, ' ')}`),
      fc.string({ maxLength: 40 }).map((text) => `Subject: ${text.replace(/[\r\n]/g, ' ')}`),
      fc.constant('Content-Type: multipart/mixed; boundary="q"'),
      fc.string({ maxLength: 20 }),
    );
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(headerLine, { maxLength: 6 }),
        fc.string({ maxLength: 200 }),
        async (lines, body) => {
          const mime = new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n${body}`);
          const reply = await alice.send('SendMail', CM.SendMail(CM.ClientId(`g${count++}`), CM.Mime(mime)));
          expect(reply.status).toBe(200);
          const status = statusOf(reply);
          if (status !== undefined) expect([107, 116, 119]).toContain(status);
        },
      ),
      { numRuns: 60 },
    );
    expect(server.errors).toEqual([]);
  });
});

describe('message size limit', () => {
  it('16.1: a forward that grows past maxMessageBytes gets 122 and nothing is sent; 12.1 gets HTTP 413', async () => {
    const server = await new LocalServer(undefined, { maxMessageBytes: ORIGINAL.byteLength + 100 }).start();
    try {
      const original = await server.mailbox.createItem(ALICE, server.folder('alice', 'Inbox').id, {
        class: 'Email',
        data: { mime: ORIGINAL, dateReceived: new Date(), read: true, messageClass: 'IPM.Note' },
      });
      const forward = encodeMime('To: bob@example.com\nSubject: Fw', 'FYI\r\n');
      const reply = await server
        .device('alice', '16.1')
        .send(
          'SmartForward',
          CM.SmartForward(CM.ClientId('big'), CM.Source(CM.ItemId(original.id)), CM.Mime(forward)),
        );
      expect(statusOf(reply)).toBe(122);
      expect(await postRaw(server, 'SmartForward', '12.1', forward, `&ItemId=${original.id}`)).toBe(413);
      expect(await server.items('bob', 'Inbox')).toHaveLength(0);
      // The device's own message alone fits.
      const plain = await server
        .device('alice', '16.1')
        .send('SendMail', CM.SendMail(CM.ClientId('small'), CM.Mime(forward)));
      expect(plain.body).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});

describe('local delivery with an SMTP relay for remote recipients', () => {
  let sink: SmtpSink;
  let server: LocalServer;
  beforeEach(async () => {
    sink = await new SmtpSink().start();
    server = await new LocalServer(
      smtpSubmitter({ host: '127.0.0.1', port: sink.port, timeoutMs: 5000 }),
    ).start();
  });
  afterEach(async () => {
    await server.stop();
    await sink.stop();
  });

  it('16.1: local recipients are filed, remote ones relayed in one submission', async () => {
    const reply = await server
      .device('alice', '16.1')
      .send(
        'SendMail',
        CM.SendMail(
          CM.ClientId('m1'),
          CM.Mime(encodeMime('To: bob@example.com, x@elsewhere.org\nCc: y@elsewhere.org\nSubject: Mixed')),
        ),
      );
    expect(reply.body).toBeUndefined();
    expect(await server.items('bob', 'Inbox')).toHaveLength(1);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.recipients).toEqual(['x@elsewhere.org', 'y@elsewhere.org']);
  });

  it('16.1: a relay that refuses every remote recipient gives 116 and nothing is filed; a relay that is down 120', async () => {
    const device = server.device('alice', '16.1');
    const refused = await device.send(
      'SendMail',
      CM.SendMail(
        CM.ClientId('m2'),
        CM.Mime(encodeMime('To: bob@example.com, z@refused.example\nSubject: x')),
      ),
    );
    expect(statusOf(refused)).toBe(116);
    await sink.stop();
    const down = await device.send(
      'SendMail',
      CM.SendMail(CM.ClientId('m3'), CM.Mime(encodeMime('To: bob@example.com, x@elsewhere.org\nSubject: x'))),
    );
    expect(statusOf(down)).toBe(120);
    expect(await server.items('bob', 'Inbox')).toHaveLength(0);
  });
});

afterAll(async () => {
  await expectLibwbxmlReadsAll(responses, 5);
});
