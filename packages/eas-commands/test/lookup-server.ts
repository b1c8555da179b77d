import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Folder,
  IndexedMailboxSearch,
  MemoryDirectoryProfiles,
  MemoryMailboxStore,
  ROOT_FOLDER_ID,
  UserDirectory,
} from '@easkit/mailbox';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { decode, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { createEasCommands, type EasCommandsOptions } from '../src/commands/index.js';
import type { TrustStore } from '../src/commands/validate-cert.js';
import { createEasHandler } from '../src/http/handler.js';
import { createNodeListener } from '../src/http/node-adapter.js';
import { authenticateTestUsers, STANDARD_FOLDERS, USERS } from './harness.js';

export interface LookupReply {
  status: number;
  body: WbxmlElement | undefined;
}

/**
 * An EAS endpoint on 127.0.0.1 for the lookup commands (Search, ResolveRecipients, Find, ValidateCert), mounted
 * through `createEasCommands` over the in-memory mailbox, an `IndexedMailboxSearch` and a `UserDirectory` of the
 * mailbox's users with profiles the test sets. Every response body is kept for the libwbxml check.
 */
export class LookupServer {
  readonly mailbox = new MemoryMailboxStore();
  readonly search = new IndexedMailboxSearch(this.mailbox);
  readonly profiles = new MemoryDirectoryProfiles();
  readonly directory = new UserDirectory({ users: this.mailbox, profile: this.profiles.get });
  readonly folders = new Map<string, Folder>();
  readonly responses: Uint8Array[] = [];
  #server: Server | undefined;
  url = '';

  constructor(readonly extra: { trustStore?: TrustStore; options?: EasCommandsOptions } = {}) {}

  async start(): Promise<this> {
    for (const [name, user] of Object.entries(USERS)) {
      await this.mailbox.createUser({
        id: user.id,
        primarySmtpAddress: user.id,
        displayName: name === 'alice' ? 'Alice Liddell' : 'Bob Builder',
      });
      for (const folder of STANDARD_FOLDERS) {
        const created = await this.mailbox.createFolder(user.id, { ...folder, parentId: ROOT_FOLDER_ID });
        this.folders.set(`${name}:${folder.displayName}`, created);
      }
    }
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: createEasCommands(
        {
          mailbox: this.mailbox,
          syncState: new MemorySyncStateStore(),
          search: this.search,
          directory: this.directory,
          ...(this.extra.trustStore ? { trustStore: this.extra.trustStore } : {}),
        },
        this.extra.options,
      ),
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 4 * 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  folder(user: keyof typeof USERS, name: string): Folder {
    const folder = this.folders.get(`${user}:${name}`);
    if (!folder) throw new Error(`no folder ${user}:${name}`);
    return folder;
  }

  /** Sends one command as a device of `user` and decodes the answer. */
  async send(
    command: string,
    body: WbxmlElement | undefined,
    { version = '14.1', user = 'alice' }: { version?: ProtocolVersion; user?: keyof typeof USERS } = {},
  ): Promise<LookupReply> {
    const account = USERS[user];
    const query = `Cmd=${command}&User=${encodeURIComponent(account.id)}&DeviceId=lookup1&DeviceType=TestPhone`;
    const response = await fetch(`${this.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
      },
      body: body === undefined ? undefined : encode(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > 0) this.responses.push(bytes);
    return { status: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
  }

  /** New mail in a user's folder. */
  async mail(
    user: keyof typeof USERS,
    folder: string | Folder,
    subject: string,
    received: Date,
    { body = 'Hello there', conversationId }: { body?: string; conversationId?: Uint8Array } = {},
  ) {
    const target = typeof folder === 'string' ? this.folder(user, folder) : folder;
    const mime = [
      'From: "Ada Lovelace" <ada@example.org>',
      `Subject: ${subject}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ];
    return this.mailbox.createItem(USERS[user].id, target.id, {
      class: 'Email',
      data: {
        mime: new TextEncoder().encode(mime.join('\r\n')),
        subject,
        from: { name: 'Ada Lovelace', address: 'ada@example.org' },
        dateReceived: received,
        read: false,
        messageClass: 'IPM.Note',
        ...(conversationId ? { conversationId } : {}),
      },
    });
  }
}
