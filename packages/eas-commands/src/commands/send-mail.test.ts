import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Folder, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authenticateTestUsers,
  expectLibwbxmlReadsAll,
  STANDARD_FOLDERS,
  USERS,
} from '../../test/harness.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import {
  envelopeRecipients,
  headerAddresses,
  InvalidMessageError,
  MailSubmissionError,
  smtpSubmitter,
  splitMessage,
  withoutBcc,
} from './mail-submitter.js';
import { ComposeMailStatus, composeMailCommands } from './send-mail.js';

const { ComposeMail: CM } = eas;

/** Every WBXML response of this file, for the libwbxml check at the end. */
const responses: Uint8Array[] = [];

interface Received {
  from: string;
  recipients: string[];
  message: string;
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives. */
class SmtpSink {
  readonly received: Received[] = [];
  port = 0;
  #server: SMTPServer | undefined;

  async start(port = 0): Promise<this> {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            recipients: session.envelope.rcptTo.map((entry) => entry.address),
            message: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

class MailServer {
  readonly mailbox = new MemoryMailboxStore();
  readonly folders = new Map<string, Folder>();
  readonly submitter: ReturnType<typeof smtpSubmitter>;
  #server: Server | undefined;
  url = '';

  constructor(smtpPort: number) {
    this.submitter = smtpSubmitter({ host: '127.0.0.1', port: smtpPort, timeoutMs: 5000 });
  }

  async start(): Promise<this> {
    for (const [name, user] of Object.entries(USERS)) {
      await this.mailbox.createUser({ id: user.id, primarySmtpAddress: user.id });
      for (const folder of STANDARD_FOLDERS) {
        const created = await this.mailbox.createFolder(user.id, { ...folder, parentId: ROOT_FOLDER_ID });
        this.folders.set(`${name}:${folder.displayName}`, created);
      }
    }
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: composeMailCommands({ mailbox: this.mailbox, submitter: this.submitter }),
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 4 * 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.submitter.close();
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  folder(name: string): Folder {
    return this.folders.get(`alice:${name}`)!;
  }

  async items(name: string) {
    const page = await this.mailbox.changes(USERS.alice.id, this.folder(name).id, 0, 100);
    return page.changes.flatMap((change) => (change.kind === 'delete' ? [] : [change.item]));
  }
}

interface Reply {
  httpStatus: number;
  body: WbxmlElement | undefined;
}

async function post(
  server: MailServer,
  command: string,
  version: ProtocolVersion,
  body: WbxmlElement | Uint8Array,
  query = '',
): Promise<Reply> {
  const account = USERS.alice;
  const url = `${server.url}/Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(account.id)}&DeviceId=phone1&DeviceType=TestPhone${query}`;
  const raw = body instanceof Uint8Array;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
      'MS-ASProtocolVersion': version,
      'Content-Type': raw ? 'message/rfc822' : 'application/vnd.ms-sync.wbxml',
    },
    body: raw ? body : encode(body),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > 0) responses.push(bytes);
  return { httpStatus: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
}

const mime = (headers: string, text = 'Hello there.\r\n') =>
  new TextEncoder().encode(`${headers.trim().replace(/\r?\n/g, '\r\n')}\r\n\r\n${text}`);

const OUTGOING = mime(`From: Alice <alice@example.com>
To: Bob <bob@example.com>, "Carol, C." <carol@example.net>
Cc: dave@example.org
Bcc: Eve <eve@example.com>
Subject: =?utf-8?B?SGVsbG8gd8O2cmxk?=
Message-ID: <out-1@example.com>`);

const ORIGINAL = mime(
  `From: Bob <bob@example.com>
To: alice@example.com
Subject: Quarterly numbers
Message-ID: <orig-1@example.com>
References: <older@example.com>
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
AAECAwQF/w==\r
--b1--\r
`,
);

const sendMail = (message: Uint8Array, clientId: string, save = true) =>
  CM.SendMail(CM.ClientId(clientId), save ? CM.SaveInSentItems() : null, CM.Mime(message));

describe('mail-submitter helpers', () => {
  it('reads To, Cc and Bcc for the envelope and strips Bcc from the message', () => {
    const split = splitMessage(OUTGOING);
    expect(envelopeRecipients(split.fields)).toEqual([
      'bob@example.com',
      'carol@example.net',
      'dave@example.org',
      'eve@example.com',
    ]);
    expect(headerAddresses(split.fields, 'To')[1]).toEqual({
      name: 'Carol, C.',
      address: 'carol@example.net',
    });
    const stripped = new TextDecoder().decode(withoutBcc(split));
    expect(stripped).not.toMatch(/^Bcc:/im);
    expect(stripped).toContain('Subject: =?utf-8?B?SGVsbG8gd8O2cmxk?=\r\n');
    expect(stripped.endsWith('\r\n\r\nHello there.\r\n')).toBe(true);
  });

  it('unfolds folded address fields and refuses a message without a header block', () => {
    const split = splitMessage(mime('To: a@example.com,\r\n  b@example.com\r\nSubject: x'));
    expect(envelopeRecipients(split.fields)).toEqual(['a@example.com', 'b@example.com']);
    expect(() => splitMessage(new TextEncoder().encode('no header here\r\n\r\nbody'))).toThrow(
      InvalidMessageError,
    );
  });

  it('smtpSubmitter reports an unreachable relay as MailSubmissionError', async () => {
    const sink = await new SmtpSink().start();
    const port = sink.port;
    await sink.stop();
    const submitter = smtpSubmitter({ host: '127.0.0.1', port, timeoutMs: 2000 });
    const error = await submitter
      .submit({ from: 'alice@example.com', recipients: ['bob@example.com'], mime: OUTGOING })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MailSubmissionError);
    expect((error as MailSubmissionError).code).toBe('unavailable');
    submitter.close();
  });
});

describe('SendMail, SmartReply, SmartForward over HTTP with a real SMTP relay', () => {
  let sink: SmtpSink;
  let server: MailServer;

  beforeEach(async () => {
    sink = await new SmtpSink().start();
    server = await new MailServer(sink.port).start();
  });
  afterEach(async () => {
    await server.stop();
    await sink.stop();
  });

  async function storeOriginal() {
    return server.mailbox.createItem(USERS.alice.id, server.folder('Inbox').id, {
      class: 'Email',
      data: {
        mime: ORIGINAL,
        from: { name: 'Bob', address: 'bob@example.com' },
        subject: 'Quarterly numbers',
        dateReceived: new Date('2026-11-02T10:00:00Z'),
        read: true,
        messageClass: 'IPM.Note',
      },
    });
  }

  for (const version of ['14.1', '16.1'] as const) {
    it(`${version}: SendMail submits to every recipient without the Bcc header and saves a copy with it`, async () => {
      const reply = await post(server, 'SendMail', version, sendMail(OUTGOING, `c-${version}`));
      expect(reply.httpStatus).toBe(200);
      expect(reply.body).toBeUndefined();
      expect(sink.received).toHaveLength(1);
      const [received] = sink.received;
      expect(received!.from).toBe('alice@example.com');
      expect(received!.recipients.sort()).toEqual(
        ['bob@example.com', 'carol@example.net', 'dave@example.org', 'eve@example.com'].sort(),
      );
      expect(received!.message).not.toMatch(/^Bcc:/im);
      expect(received!.message).toContain('Hello there.');
      const sent = await server.items('Sent Items');
      expect(sent).toHaveLength(1);
      const copy = sent[0]!;
      expect(copy.class).toBe('Email');
      if (copy.class !== 'Email') return;
      expect(new TextDecoder().decode(copy.data.mime)).toMatch(/^Bcc: Eve <eve@example\.com>$/im);
      expect(copy.data.subject).toBe('Hello wörld');
      expect(copy.data.bcc).toEqual([{ name: 'Eve', address: 'eve@example.com' }]);
    });
  }

  it('14.1: without SaveInSentItems nothing is filed; a resent ClientId is not sent twice (118)', async () => {
    expect((await post(server, 'SendMail', '14.1', sendMail(OUTGOING, 'dup', false))).httpStatus).toBe(200);
    const again = await post(server, 'SendMail', '14.1', sendMail(OUTGOING, 'dup', false));
    expect(again.body?.qualifiedName).toBe('ComposeMail:SendMail');
    expect(again.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.MessagePreviouslySent);
    expect(sink.received).toHaveLength(1);
    expect(await server.items('Sent Items')).toHaveLength(0);
  });

  it('14.1: a message without recipients gets 119 and a missing source item 150; nothing is sent', async () => {
    const none = await post(
      server,
      'SendMail',
      '14.1',
      sendMail(mime('From: alice@example.com\r\nSubject: x'), 'n1'),
    );
    expect(none.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.MessageHasNoRecipient);
    const missing = await post(
      server,
      'SmartReply',
      '14.1',
      CM.SmartReply(CM.ClientId('n2'), CM.Source(CM.ItemId('no-such-item')), CM.Mime(OUTGOING)),
    );
    expect(missing.body?.qualifiedName).toBe('ComposeMail:SmartReply');
    expect(missing.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.ItemNotFound);
    const bad = await post(server, 'SendMail', '16.1', sendMail(new TextEncoder().encode('garbage'), 'n3'));
    expect(bad.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.InvalidMime);
    expect(sink.received).toHaveLength(0);
  });

  it('14.1: a message of another user is not found (150); the same ClientId twice at once is sent once', async () => {
    const bobs = await server.mailbox.createItem(USERS.bob.id, server.folders.get('bob:Inbox')!.id, {
      class: 'Email',
      data: { mime: ORIGINAL, dateReceived: new Date(), read: false, messageClass: 'IPM.Note' },
    });
    const stolen = await post(
      server,
      'SmartForward',
      '14.1',
      CM.SmartForward(CM.ClientId('x1'), CM.Source(CM.ItemId(bobs.id)), CM.Mime(OUTGOING)),
    );
    expect(stolen.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.ItemNotFound);
    expect(sink.received).toHaveLength(0);

    const both = await Promise.all([
      post(server, 'SendMail', '14.1', sendMail(OUTGOING, 'same', false)),
      post(server, 'SendMail', '14.1', sendMail(OUTGOING, 'same', false)),
    ]);
    expect(both.map((reply) => reply.body?.intOf('ComposeMail:Status')).sort()).toEqual([
      ComposeMailStatus.MessagePreviouslySent,
      undefined,
    ]);
    expect(sink.received).toHaveLength(1);
  });

  it('16.1: with the SMTP relay down the answer is 120, nothing is filed, and the ClientId may be retried', async () => {
    await sink.stop();
    const down = await post(server, 'SendMail', '16.1', sendMail(OUTGOING, 'retry'));
    expect(down.body?.intOf('ComposeMail:Status')).toBe(ComposeMailStatus.MailSubmissionFailed);
    expect(await server.items('Sent Items')).toHaveLength(0);
    // The relay is back (same port): the retry with the same ClientId goes out.
    sink = await new SmtpSink().start(sink.port);
    const retried = await post(server, 'SendMail', '16.1', sendMail(OUTGOING, 'retry'));
    expect(retried.body).toBeUndefined();
    expect(sink.received).toHaveLength(1);
  });

  it('14.1: SmartReply quotes the original, threads it and marks the original replied', async () => {
    const original = await storeOriginal();
    const reply = mime(
      'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Re: Quarterly numbers',
      'Thanks!\r\n',
    );
    const answer = await post(
      server,
      'SmartReply',
      '14.1',
      CM.SmartReply(
        CM.ClientId('r1'),
        CM.SaveInSentItems(),
        CM.Source(CM.FolderId(server.folder('Inbox').id), CM.ItemId(original.id)),
        CM.Mime(reply),
      ),
    );
    expect(answer.httpStatus).toBe(200);
    expect(answer.body).toBeUndefined();
    const message = sink.received[0]!.message;
    expect(message).toContain('In-Reply-To: <orig-1@example.com>');
    expect(message).toContain('References: <older@example.com> <orig-1@example.com>');
    expect(message).toContain('Thanks!');
    const quoted = message
      .split(/\r\n--/)
      .find((part) => part.includes('Content-Transfer-Encoding: base64'))!
      .split('\r\n\r\n')[1]!;
    expect(Buffer.from(quoted.replace(/\s+/g, ''), 'base64').toString('utf8')).toContain(
      '> The numbers are attached.',
    );
    const updated = await server.mailbox.getItem(USERS.alice.id, original.id);
    expect(updated.class === 'Email' && updated.data.lastVerbExecuted).toBe(1);
    expect(await server.items('Sent Items')).toHaveLength(1);
  });

  it('16.1: SmartForward attaches the original with its attachment byte for byte; ReplaceMime sends as is', async () => {
    const original = await storeOriginal();
    const forward = mime(
      'From: alice@example.com\r\nTo: carol@example.net\r\nSubject: Fw: Quarterly numbers',
      'FYI\r\n',
    );
    const answer = await post(
      server,
      'SmartForward',
      '16.1',
      CM.SmartForward(CM.ClientId('f1'), CM.Source(CM.LongId(original.id)), CM.Mime(forward)),
    );
    expect(answer.httpStatus).toBe(200);
    const message = sink.received[0]!.message;
    expect(sink.received[0]!.recipients).toEqual(['carol@example.net']);
    expect(message).toMatch(/Content-Type: multipart\/mixed; boundary=/);
    expect(message).toContain('Content-Type: message/rfc822');
    expect(message).toContain(new TextDecoder().decode(ORIGINAL));
    const updated = await server.mailbox.getItem(USERS.alice.id, original.id);
    expect(updated.class === 'Email' && updated.data.lastVerbExecuted).toBe(3);

    const replaced = await post(
      server,
      'SmartForward',
      '16.1',
      CM.SmartForward(
        CM.ClientId('f2'),
        CM.Source(CM.ItemId(original.id)),
        CM.ReplaceMime(),
        CM.Mime(forward),
      ),
    );
    expect(replaced.httpStatus).toBe(200);
    expect(sink.received[1]!.message).not.toContain('message/rfc822');
    expect(sink.received[1]!.message).toContain('FYI');
  });

  it('12.1: raw MIME SendMail with SaveInSent=T, SmartForward by query ItemId, and HTTP errors', async () => {
    const sent = await post(server, 'SendMail', '12.1', OUTGOING, '&SaveInSent=T');
    expect(sent.httpStatus).toBe(200);
    expect(sink.received[0]!.message).not.toMatch(/^Bcc:/im);
    expect(sink.received[0]!.recipients).toContain('eve@example.com');
    expect(await server.items('Sent Items')).toHaveLength(1);

    const original = await storeOriginal();
    const forward = mime('To: carol@example.net\r\nSubject: Fw', 'see below\r\n');
    const forwarded = await post(
      server,
      'SmartForward',
      '12.1',
      forward,
      `&ItemId=${encodeURIComponent(original.id)}&CollectionId=${encodeURIComponent(server.folder('Inbox').id)}`,
    );
    expect(forwarded.httpStatus).toBe(200);
    expect(sink.received[1]!.message).toContain('Content-Type: message/rfc822');
    expect(sink.received[1]!.from).toBe('alice@example.com');

    const missing = await post(server, 'SmartReply', '12.1', forward, '&ItemId=nope&CollectionId=1');
    expect(missing.httpStatus).toBe(404);
    const empty = await post(server, 'SendMail', '12.1', mime('Subject: nobody'));
    expect(empty.httpStatus).toBe(400);
    await sink.stop();
    const down = await post(server, 'SendMail', '12.1', OUTGOING);
    expect(down.httpStatus).toBe(503);
    expect(sink.received).toHaveLength(2);
  });
});

afterAll(async () => {
  await expectLibwbxmlReadsAll(responses, 5);
});
