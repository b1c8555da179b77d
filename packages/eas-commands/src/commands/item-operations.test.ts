import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Folder, FolderType, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticateTestUsers,
  expectLibwbxmlReadsAll,
  STANDARD_FOLDERS,
  USERS,
} from '../../test/harness.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import type { EasRequestHead } from '../http/request.js';
import { createEasCommands } from './index.js';
import {
  encodeMultiPart,
  itemOperationsCommand,
  MULTIPART_CONTENT_TYPE,
  parseByteRange,
  ItemOperationsStatus as Status,
} from './item-operations.js';

const { ItemOperations: IO, AirSync: AS, AirSyncBase: ASB, Search: SR, DocumentLibrary: DL } = eas;
const ALICE = USERS.alice.id;

const PLAIN = 'Hello plain wörld';
const HTML = '<p>Hello <b>html</b> wörld</p>';
/** 300 bytes covering every byte value: the attachment. */
const ATTACHMENT = Uint8Array.from({ length: 300 }, (_, index) => (index * 7) % 256);

function mimeWithAttachment(subject: string): Uint8Array {
  const lines = [
    'From: "Ada" <ada@example.com>',
    'To: alice@example.com',
    `Subject: ${subject}`,
    'Date: Tue, 07 Jan 2025 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mix"',
    '',
    '--mix',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    PLAIN,
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    HTML,
    '--alt--',
    '--mix',
    'Content-Type: application/octet-stream; name="data.bin"',
    'Content-Disposition: attachment; filename="data.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(ATTACHMENT).toString('base64'),
    '--mix--',
    '',
  ];
  return new TextEncoder().encode(lines.join('\r\n'));
}

interface Reply {
  status: number;
  contentType: string;
  bytes: Uint8Array;
  /** The WBXML document: the body, or part 0 of a multipart body. */
  body: WbxmlElement | undefined;
  /** The binary parts of a multipart body, part 0 included. */
  parts: Uint8Array[];
}

/** Reads a multipart body by hand (MS-ASCMD 2.2.1.10.1.1), independently of the encoder under test. */
function readMultiPart(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getInt32(0, true);
  const parts: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const offset = view.getInt32(4 + 8 * index, true);
    const length = view.getInt32(8 + 8 * index, true);
    expect(offset + length).toBeLessThanOrEqual(bytes.byteLength);
    parts.push(bytes.subarray(offset, offset + length));
  }
  return parts;
}

/** An EAS endpoint over real HTTP with ItemOperations mounted beside the other commands. */
class Endpoint {
  readonly mailbox = new MemoryMailboxStore();
  readonly syncState = new MemorySyncStateStore();
  readonly wbxmlBodies: Uint8Array[] = [];
  readonly folders = new Map<string, Folder>();
  readonly errors: unknown[] = [];
  #server: Server | undefined;
  #url = '';

  async start(): Promise<void> {
    for (const [name, user] of Object.entries(USERS)) {
      await this.mailbox.createUser({ id: user.id, primarySmtpAddress: user.id });
      for (const folder of STANDARD_FOLDERS) {
        const created = await this.mailbox.createFolder(user.id, { ...folder, parentId: ROOT_FOLDER_ID });
        this.folders.set(`${name}:${folder.displayName}`, created);
      }
    }
    const services = { mailbox: this.mailbox, syncState: this.syncState };
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: {
        ...createEasCommands(services),
        ItemOperations: itemOperationsCommand(services, { onError: (info) => this.errors.push(info.error) }),
      },
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  async send(
    request: WbxmlElement,
    { user = USERS.alice, version = '14.1', multipart = false }: SendOptions = {},
  ): Promise<Reply> {
    const query = `Cmd=ItemOperations&User=${encodeURIComponent(user.id)}&DeviceId=itemops&DeviceType=TestPhone`;
    const response = await fetch(`${this.#url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
        ...(multipart ? { 'MS-ASAcceptMultiPart': 'T' } : {}),
      },
      body: encode(request),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const contentType = response.headers.get('content-type') ?? '';
    const parts = contentType === MULTIPART_CONTENT_TYPE ? readMultiPart(bytes) : [];
    const document = parts.length > 0 ? parts[0]! : bytes;
    if (response.status === 200 && document.byteLength > 0) this.wbxmlBodies.push(document.slice());
    return {
      status: response.status,
      contentType,
      bytes,
      body: document.byteLength > 0 ? decode(document) : undefined,
      parts,
    };
  }
}

interface SendOptions {
  user?: { id: string; password: string };
  version?: ProtocolVersion;
  multipart?: boolean;
}

function responses(reply: Reply): WbxmlElement[] {
  expect(reply.status).toBe(200);
  expect(reply.body!.name).toBe('ItemOperations');
  expect(reply.body!.intOf('Status')).toBe(1);
  return reply.body!.child('Response')!.children as WbxmlElement[];
}

function only(reply: Reply): WbxmlElement {
  const [first, ...rest] = responses(reply);
  expect(rest).toHaveLength(0);
  return first!;
}

const fetchById = (collectionId: string, serverId: string, ...options: WbxmlElement[]) =>
  IO.Fetch(
    IO.Store('Mailbox'),
    AS.CollectionId(collectionId),
    AS.ServerId(serverId),
    options.length ? IO.Options(options) : null,
  );
const fetchAttachment = (fileReference: string, range?: string) =>
  IO.Fetch(
    IO.Store('Mailbox'),
    ASB.FileReference(fileReference),
    range === undefined ? null : IO.Options(IO.Range(range)),
  );

describe('ItemOperations over HTTP', () => {
  const endpoint = new Endpoint();
  let inbox: string;
  let emailId: string;
  let mime: Uint8Array;
  let fileReference: string;

  beforeAll(async () => {
    await endpoint.start();
    inbox = endpoint.folders.get('alice:Inbox')!.id;
    mime = mimeWithAttachment('With attachment');
    const email = await endpoint.mailbox.createItem(ALICE, inbox, {
      class: 'Email',
      data: {
        mime,
        subject: 'With attachment',
        dateReceived: new Date(),
        read: false,
        messageClass: 'IPM.Note',
      },
    });
    emailId = email.id;
    expect(email.class === 'Email' && email.data.attachments).toHaveLength(1);
    fileReference = email.class === 'Email' ? email.data.attachments![0]!.fileReference : '';
  });
  afterAll(() => endpoint.stop());

  describe('Fetch of a mailbox item', () => {
    it('returns the body as plain text, HTML or MIME bytes, as BodyPreference asks', async () => {
      const body = async (...options: WbxmlElement[]) => {
        const fetch = only(await endpoint.send(IO.ItemOperations(fetchById(inbox, emailId, ...options))));
        expect(fetch.intOf('Status')).toBe(Status.Success);
        expect(fetch.textOf('CollectionId')).toBe(inbox);
        expect(fetch.textOf('ServerId')).toBe(emailId);
        expect(fetch.textOf('Class')).toBe('Email');
        const properties = fetch.child('Properties')!;
        expect(properties.textOf('Email:Subject')).toBe('With attachment');
        expect(properties.child('AirSyncBase:Attachments')!.all('Attachment')).toHaveLength(1);
        return properties.child('AirSyncBase:Body')!;
      };
      const plain = await body(ASB.BodyPreference(ASB.Type(1)));
      expect(plain.intOf('Type')).toBe(1);
      expect(plain.textOf('Data')!.trimEnd()).toBe(PLAIN);

      const html = await body(ASB.BodyPreference(ASB.Type(2)));
      expect(html.intOf('Type')).toBe(2);
      expect(html.textOf('Data')).toContain('<b>html</b>');

      const truncated = await body(ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(5)));
      expect(truncated.textOf('Data')).toBe('Hello');
      expect(truncated.textOf('Truncated')).toBe('1');

      const asMime = await body(AS.MIMESupport(2), ASB.BodyPreference(ASB.Type(4)));
      expect(asMime.intOf('Type')).toBe(4);
      // MIME travels as opaque bytes, byte for byte the stored message.
      expect(asMime.child('Data')!.bytes).toEqual(mime);
    });

    it('accepts RightsManagementSupport at 14.1 and 16.1', async () => {
      for (const version of ['14.1', '16.1'] as const) {
        const fetch = only(
          await endpoint.send(
            IO.ItemOperations(
              fetchById(
                inbox,
                emailId,
                ASB.BodyPreference(ASB.Type(1)),
                eas.RightsManagement.RightsManagementSupport('1'),
              ),
            ),
            { version },
          ),
        );
        expect(fetch.intOf('Status')).toBe(Status.Success);
        expect(fetch.child('Properties')!.child('AirSyncBase:Body')!.textOf('Data')!.trimEnd()).toBe(PLAIN);
      }
    });

    it('fetches by search LongId, answering with the LongId', async () => {
      const fetch = only(
        await endpoint.send(IO.ItemOperations(IO.Fetch(IO.Store('Mailbox'), SR.LongId(emailId)))),
      );
      expect(fetch.intOf('Status')).toBe(Status.Success);
      expect(fetch.textOf('Search:LongId')).toBe(emailId);
      expect(fetch.has('AirSync:ServerId')).toBe(false);
      expect(fetch.child('Properties')!.textOf('Email:Subject')).toBe('With attachment');
    });

    it('returns only the properties a Schema lists', async () => {
      const fetch = only(
        await endpoint.send(
          IO.ItemOperations(
            fetchById(
              inbox,
              emailId,
              IO.Schema(eas.Email.Subject(), ASB.Body()),
              ASB.BodyPreference(ASB.Type(1)),
            ),
          ),
        ),
      );
      const names = fetch.child('Properties')!.children.map((child) => child.qualifiedName);
      expect(names.sort()).toEqual(['AirSyncBase:Body', 'Email:Subject']);
    });

    it('works at 12.0 and 12.1', async () => {
      for (const version of ['12.0', '12.1'] as const) {
        const fetch = only(
          await endpoint.send(IO.ItemOperations(fetchById(inbox, emailId, ASB.BodyPreference(ASB.Type(2)))), {
            version,
          }),
        );
        expect(fetch.intOf('Status')).toBe(Status.Success);
        expect(fetch.child('Properties')!.child('AirSyncBase:Body')!.intOf('Type')).toBe(2);
      }
    });

    it('fetches items of the other classes with their class name', async () => {
      const notes = endpoint.folders.get('alice:Notes')!.id;
      const note = await endpoint.mailbox.createItem(ALICE, notes, {
        class: 'Notes',
        data: { subject: 'Shopping', body: { type: 'plain', data: 'milk, bread' } },
      });
      const fetch = only(
        await endpoint.send(IO.ItemOperations(fetchById(notes, note.id, ASB.BodyPreference(ASB.Type(1))))),
      );
      expect(fetch.intOf('Status')).toBe(Status.Success);
      expect(fetch.textOf('Class')).toBe('Notes');
      const properties = fetch.child('Properties')!;
      expect(properties.textOf('Notes:Subject')).toBe('Shopping');
      expect(properties.child('AirSyncBase:Body')!.textOf('Data')).toBe('milk, bread');
    });
  });

  describe('Fetch of an attachment', () => {
    it('returns the whole attachment as base64 Data with its content type', async () => {
      const fetch = only(await endpoint.send(IO.ItemOperations(fetchAttachment(fileReference))));
      expect(fetch.intOf('Status')).toBe(Status.Success);
      expect(fetch.textOf('AirSyncBase:FileReference')).toBe(fileReference);
      const properties = fetch.child('Properties')!;
      expect(properties.textOf('AirSyncBase:ContentType')).toBe('application/octet-stream');
      expect(properties.has('Range')).toBe(false);
      expect(new Uint8Array(Buffer.from(properties.textOf('ItemOperations:Data')!, 'base64'))).toEqual(
        ATTACHMENT,
      );
    });

    it('returns a byte Range with Range and Total, cutting a range that runs past the end', async () => {
      const ranged = only(await endpoint.send(IO.ItemOperations(fetchAttachment(fileReference, '10-19'))));
      expect(ranged.intOf('Status')).toBe(Status.Success);
      const properties = ranged.child('Properties')!;
      expect(properties.textOf('Range')).toBe('10-19');
      expect(properties.intOf('Total')).toBe(300);
      expect(new Uint8Array(Buffer.from(properties.textOf('ItemOperations:Data')!, 'base64'))).toEqual(
        ATTACHMENT.slice(10, 20),
      );

      const tail = only(await endpoint.send(IO.ItemOperations(fetchAttachment(fileReference, '290-5000'))));
      expect(tail.child('Properties')!.textOf('Range')).toBe('290-299');
      expect(Buffer.from(tail.child('Properties')!.textOf('ItemOperations:Data')!, 'base64')).toHaveLength(
        10,
      );
    });

    it('answers an invalid byte range with Status 8', async () => {
      for (const range of ['300-400', '20-10', 'abc', '-5']) {
        const fetch = only(await endpoint.send(IO.ItemOperations(fetchAttachment(fileReference, range))));
        expect(fetch.intOf('Status'), range).toBe(Status.InvalidByteRange);
        expect(fetch.has('Properties')).toBe(false);
      }
    });
  });

  it('answers a multipart request with the WBXML part first and the data in their own parts', async () => {
    const reply = await endpoint.send(
      IO.ItemOperations(
        fetchById(inbox, emailId, ASB.BodyPreference(ASB.Type(1))),
        fetchAttachment(fileReference, '0-99'),
        fetchById(inbox, emailId, AS.MIMESupport(2), ASB.BodyPreference(ASB.Type(4))),
      ),
      { multipart: true },
    );
    expect(reply.contentType).toBe(MULTIPART_CONTENT_TYPE);
    expect(reply.parts).toHaveLength(4);
    const [email, attachment, mimeFetch] = responses(reply);

    const body = email!.child('Properties')!.child('AirSyncBase:Body')!;
    expect(body.has('AirSyncBase:Data')).toBe(false);
    const bodyPart = body.intOf('ItemOperations:Part')!;
    expect(new TextDecoder().decode(reply.parts[bodyPart]).trimEnd()).toBe(PLAIN);

    const properties = attachment!.child('Properties')!;
    expect(properties.has('ItemOperations:Data')).toBe(false);
    expect(properties.textOf('Range')).toBe('0-99');
    expect(reply.parts[properties.intOf('Part')!]).toEqual(ATTACHMENT.slice(0, 100));

    const mimeBody = mimeFetch!.child('Properties')!.child('AirSyncBase:Body')!;
    expect(reply.parts[mimeBody.intOf('ItemOperations:Part')!]).toEqual(mime);
    expect(new Set([bodyPart, properties.intOf('Part'), mimeBody.intOf('ItemOperations:Part')])).toEqual(
      new Set([1, 2, 3]),
    );
  });

  it('answers with the not-found, store and protocol statuses', async () => {
    const bobInbox = endpoint.folders.get('bob:Inbox')!.id;
    const drafts = endpoint.folders.get('alice:Drafts')!.id;
    const reply = await endpoint.send(
      IO.ItemOperations(
        fetchById(inbox, 'no-such-item'),
        fetchById(drafts, emailId),
        fetchAttachment('no-such-reference'),
        fetchAttachment(`${emailId}:7`),
        IO.Fetch(IO.Store('DocumentLibrary'), AS.CollectionId(inbox), AS.ServerId(emailId)),
        IO.Fetch(IO.Store('Mailbox'), DL.LinkId('\\\\server\\share\\file.txt')),
        IO.Fetch(AS.CollectionId(inbox), AS.ServerId(emailId)),
        IO.Fetch(IO.Store('Mailbox'), AS.ServerId(emailId), ASB.FileReference(fileReference)),
        fetchById(inbox, emailId, ASB.BodyPreference(ASB.Type(9))),
        fetchById(bobInbox, emailId),
      ),
    );
    expect(responses(reply).map((fetch) => fetch.intOf('Status'))).toEqual([
      Status.ObjectNotFound,
      Status.ObjectNotFound,
      Status.InvalidAttachment,
      Status.InvalidAttachment,
      Status.UnknownStore,
      Status.DocumentLibraryBadUri,
      Status.ProtocolError,
      Status.ProtocolError,
      Status.ProtocolError,
      Status.ObjectNotFound,
    ]);
  });

  it("does not let another user fetch an item or attachment of Alice's", async () => {
    const reply = await endpoint.send(
      IO.ItemOperations(
        fetchById(inbox, emailId),
        IO.Fetch(IO.Store('Mailbox'), SR.LongId(emailId)),
        fetchAttachment(fileReference),
      ),
      { user: USERS.bob },
    );
    const statuses = responses(reply).map((fetch) => fetch.intOf('Status'));
    expect(statuses).toEqual([Status.ObjectNotFound, Status.ObjectNotFound, Status.InvalidAttachment]);
    expect(
      reply
        .body!.child('Response')!
        .all('Fetch')
        .some((fetch) => fetch.has('Properties')),
    ).toBe(false);
  });

  it('answers a request that is not ItemOperations, or has an unknown operation, with Status 2', async () => {
    const empty = await endpoint.send(IO.ItemOperations());
    expect(empty.body!.intOf('Status')).toBe(Status.ProtocolError);
    expect(empty.body!.has('Response')).toBe(false);
    const wrong = await endpoint.send(IO.ItemOperations(IO.Fetch(IO.Store('Mailbox')), IO.Schema()));
    expect(wrong.body!.intOf('Status')).toBe(Status.ProtocolError);
  });

  describe('EmptyFolderContents', () => {
    async function folderWithContent(name: string) {
      const parent = await endpoint.mailbox.createFolder(ALICE, {
        parentId: ROOT_FOLDER_ID,
        displayName: name,
        type: FolderType.UserMail,
      });
      const child = await endpoint.mailbox.createFolder(ALICE, {
        parentId: parent.id,
        displayName: `${name} child`,
        type: FolderType.UserMail,
      });
      for (const folder of [parent, parent, child]) {
        await endpoint.mailbox.createItem(ALICE, folder.id, {
          class: 'Email',
          data: {
            mime: mimeWithAttachment(name),
            dateReceived: new Date(),
            read: true,
            messageClass: 'IPM.Note',
          },
        });
      }
      return { parent, child };
    }
    const empty = (collectionId: string, deleteSubFolders: boolean) =>
      IO.EmptyFolderContents(
        AS.CollectionId(collectionId),
        deleteSubFolders ? IO.Options(IO.DeleteSubFolders()) : null,
      );

    it('deletes the items and keeps the subfolders without DeleteSubFolders', async () => {
      const { parent, child } = await folderWithContent('Keep children');
      const answer = only(await endpoint.send(IO.ItemOperations(empty(parent.id, false))));
      expect(answer.name).toBe('EmptyFolderContents');
      expect(answer.intOf('Status')).toBe(Status.Success);
      expect(answer.textOf('CollectionId')).toBe(parent.id);
      expect(await endpoint.mailbox.countItems(ALICE, parent.id)).toBe(0);
      expect(await endpoint.mailbox.countItems(ALICE, child.id)).toBe(1);
    });

    it('deletes the subfolders too with DeleteSubFolders, except a special folder (Status 17)', async () => {
      const { parent, child } = await folderWithContent('Drop children');
      const answer = only(await endpoint.send(IO.ItemOperations(empty(parent.id, true))));
      expect(answer.intOf('Status')).toBe(Status.Success);
      expect(await endpoint.mailbox.countItems(ALICE, parent.id)).toBe(0);
      await expect(endpoint.mailbox.getFolder(ALICE, child.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const journal = await endpoint.mailbox.createFolder(ALICE, {
        parentId: parent.id,
        displayName: 'Journal',
        type: FolderType.Journal,
      });
      const other = await endpoint.mailbox.createFolder(ALICE, {
        parentId: parent.id,
        displayName: 'Other',
        type: FolderType.UserMail,
      });
      const partial = only(await endpoint.send(IO.ItemOperations(empty(parent.id, true))));
      expect(partial.intOf('Status')).toBe(Status.PartialSuccess);
      await expect(endpoint.mailbox.getFolder(ALICE, journal.id)).resolves.toMatchObject({ id: journal.id });
      await expect(endpoint.mailbox.getFolder(ALICE, other.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('answers an unknown folder, another user folder or a missing CollectionId', async () => {
      const bobInbox = endpoint.folders.get('bob:Inbox')!.id;
      const reply = await endpoint.send(
        IO.ItemOperations(empty('no-such-folder', false), empty(bobInbox, true), IO.EmptyFolderContents()),
      );
      expect(responses(reply).map((answer) => answer.intOf('Status'))).toEqual([
        Status.ObjectNotFound,
        Status.ObjectNotFound,
        Status.ProtocolError,
      ]);
    });
  });

  describe('Move of a conversation', () => {
    const conversation = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6]);
    const otherConversation = new Uint8Array(16).fill(0x42);
    let archive: Folder;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      archive = await endpoint.mailbox.createFolder(ALICE, {
        parentId: ROOT_FOLDER_ID,
        displayName: 'Archive',
        type: FolderType.UserMail,
      });
      const project = await endpoint.mailbox.createFolder(ALICE, {
        parentId: ROOT_FOLDER_ID,
        displayName: 'Project',
        type: FolderType.UserMail,
      });
      const sent = endpoint.folders.get('alice:Sent Items')!.id;
      const placements: [string, string, Uint8Array][] = [
        ['inbox1', inbox, conversation],
        ['inbox2', inbox, conversation],
        ['project', project.id, conversation],
        ['sent', sent, conversation],
        ['other', inbox, otherConversation],
      ];
      for (const [name, folderId, conversationId] of placements) {
        const item = await endpoint.mailbox.createItem(ALICE, folderId, {
          class: 'Email',
          data: {
            mime: mimeWithAttachment(name),
            subject: name,
            dateReceived: new Date(),
            read: false,
            messageClass: 'IPM.Note',
            conversationId,
          },
        });
        ids[name] = item.id;
      }
    });

    const move = (conversationId: Uint8Array, destination: string, moveAlways = true) =>
      IO.Move(
        IO.ConversationId(conversationId),
        IO.DstFldId(destination),
        moveAlways ? IO.Options(IO.MoveAlways()) : null,
      );

    it('refuses a move without MoveAlways, to a non-mail folder, to an unknown folder, or before 14.0', async () => {
      const calendar = endpoint.folders.get('alice:Calendar')!.id;
      const reply = await endpoint.send(
        IO.ItemOperations(
          move(conversation, archive.id, false),
          move(conversation, calendar),
          move(conversation, 'no-such-folder'),
          move(new Uint8Array([1, 2, 3]), archive.id),
          IO.Move(IO.DstFldId(archive.id), IO.Options(IO.MoveAlways())),
        ),
      );
      const answers = responses(reply);
      expect(answers.map((answer) => answer.intOf('Status'))).toEqual([
        Status.MoveAlwaysMissing,
        Status.ActionNotSupported,
        Status.ObjectNotFound,
        Status.ObjectNotFound,
        Status.ProtocolError,
      ]);
      expect(answers[0]!.child('ConversationId')!.bytes).toEqual(conversation);
      const old = only(
        await endpoint.send(IO.ItemOperations(move(conversation, archive.id)), { version: '12.1' }),
      );
      expect(old.intOf('Status')).toBe(Status.ProtocolError);
      expect(await endpoint.mailbox.countItems(ALICE, archive.id)).toBe(0);
    });

    it('moves every message of the conversation except those in Sent Items', async () => {
      const answer = only(await endpoint.send(IO.ItemOperations(move(conversation, archive.id))));
      expect(answer.name).toBe('Move');
      expect(answer.intOf('Status')).toBe(Status.Success);
      expect(answer.child('ConversationId')!.bytes).toEqual(conversation);

      const archived = (await endpoint.mailbox.changes(ALICE, archive.id, 0, 100)).changes.map((change) =>
        change.kind === 'delete' ? '' : (change.item.data as { subject?: string }).subject,
      );
      expect(archived.sort()).toEqual(['inbox1', 'inbox2', 'project']);
      for (const name of ['inbox1', 'inbox2', 'project']) {
        await expect(endpoint.mailbox.getItem(ALICE, ids[name]!)).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      }
      await expect(endpoint.mailbox.getItem(ALICE, ids.sent!)).resolves.toBeDefined();
      await expect(endpoint.mailbox.getItem(ALICE, ids.other!)).resolves.toMatchObject({ folderId: inbox });

      // Moving again finds the conversation already in place.
      const again = only(await endpoint.send(IO.ItemOperations(move(conversation, archive.id))));
      expect(again.intOf('Status')).toBe(Status.Success);
      expect(await endpoint.mailbox.countItems(ALICE, archive.id)).toBe(3);
    });
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(endpoint.wbxmlBodies, 16);
  });

  it('reported no unexpected server errors', () => {
    expect(endpoint.errors).toEqual([]);
  });
});

describe('multipart and range helpers', () => {
  it('lays out the part count, offsets and lengths little-endian before the parts', () => {
    const body = encodeMultiPart([new Uint8Array([1, 2, 3]), new Uint8Array([]), new Uint8Array([4])]);
    expect(Array.from(body.subarray(0, 28))).toEqual([
      3, 0, 0, 0, 28, 0, 0, 0, 3, 0, 0, 0, 31, 0, 0, 0, 0, 0, 0, 0, 31, 0, 0, 0, 1, 0, 0, 0,
    ]);
    expect(Array.from(body.subarray(28))).toEqual([1, 2, 3, 4]);
  });

  it('parses byte ranges and cuts them to the data', () => {
    expect(parseByteRange('0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseByteRange('95-200', 100)).toEqual({ start: 95, end: 99 });
    expect(parseByteRange('5-5', 100)).toEqual({ start: 5, end: 5 });
    expect(parseByteRange('100-101', 100)).toBeUndefined();
    expect(parseByteRange('9-1', 100)).toBeUndefined();
    expect(parseByteRange('1-', 100)).toBeUndefined();
    expect(parseByteRange('0-0', 0)).toBeUndefined();
  });
});

describe('ItemOperations failures inside the server', () => {
  /** A store that cannot read one item's body and fails outright on another item. */
  class BrokenStore extends MemoryMailboxStore {
    unreadable = '';
    failing = '';
    override async readBody(...args: Parameters<MemoryMailboxStore['readBody']>) {
      if (args[1] === this.unreadable) throw new Error('body storage unavailable');
      return super.readBody(...args);
    }
    override async getItem(...args: Parameters<MemoryMailboxStore['getItem']>) {
      if (args[1] === this.failing) throw new Error('database down');
      return super.getItem(...args);
    }
  }

  it('answers Status 14 for an item that cannot be converted and 3 for a store failure, and goes on', async () => {
    const mailbox = new BrokenStore();
    await mailbox.createUser({ id: ALICE, primarySmtpAddress: ALICE });
    const inbox = await mailbox.createFolder(ALICE, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Inbox',
      type: FolderType.Inbox,
    });
    const create = async (subject: string) =>
      (
        await mailbox.createItem(ALICE, inbox.id, {
          class: 'Email',
          data: {
            mime: mimeWithAttachment(subject),
            dateReceived: new Date(),
            read: false,
            messageClass: 'IPM.Note',
          },
        })
      ).id;
    mailbox.unreadable = await create('unreadable');
    mailbox.failing = await create('failing');
    const healthy = await create('healthy');
    const errors: string[] = [];
    const handler = itemOperationsCommand(
      { mailbox, syncState: new MemorySyncStateStore() },
      { onError: (info) => errors.push(`${info.operation}: ${(info.error as Error).message}`) },
    );
    const head = { protocolVersion: '14.1', acceptMultiPart: false, deviceId: 'direct' } as EasRequestHead;
    const result = await handler({
      identity: { userId: ALICE, addresses: [ALICE] },
      head,
      body: IO.ItemOperations(
        fetchById(inbox.id, mailbox.unreadable),
        fetchById(inbox.id, mailbox.failing),
        fetchById(inbox.id, healthy),
      ),
      rawBody: new Uint8Array(),
    });
    expect(result.kind).toBe('wbxml');
    const answers = (result as { body: WbxmlElement }).body.child('Response')!.all('Fetch');
    expect(answers.map((answer) => answer.intOf('Status'))).toEqual([
      Status.ConversionFailed,
      Status.ServerError,
      Status.Success,
    ]);
    expect(answers[1]!.textOf('ServerId')).toBe(mailbox.failing);
    expect(errors).toEqual(['Fetch: body storage unavailable', 'Fetch: database down']);
  });
});
