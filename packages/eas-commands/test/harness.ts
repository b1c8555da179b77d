import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Folder,
  type FolderId,
  FolderType,
  type ItemClass,
  type MailboxStore,
  MemoryMailboxStore,
  ROOT_FOLDER_ID,
} from '@easkit/mailbox';
import { InProcessPushBus, publishingMailbox, WaiterRegistry, type WaiterTimers } from '@easkit/push';
import { MemorySyncStateStore, type SyncStateStore } from '@easkit/sync-state';
import { decode, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { createEasCommands } from '../src/commands/index.js';
import type { PingCommandOptions } from '../src/commands/ping.js';
import type { SyncCommandOptions } from '../src/commands/sync.js';
import type { EasCredentials } from '../src/http/auth.js';
import { createEasHandler } from '../src/http/handler.js';
import type { MailboxIdentity } from '../src/http/identity.js';
import { createNodeListener } from '../src/http/node-adapter.js';

const run = promisify(execFile);

export const USERS = {
  alice: { id: 'alice@example.com', password: 'alice-pw' },
  bob: { id: 'bob@example.com', password: 'bob-pw' },
} as const;

export const STANDARD_FOLDERS: readonly { displayName: string; type: FolderType }[] = [
  { displayName: 'Inbox', type: FolderType.Inbox },
  { displayName: 'Drafts', type: FolderType.Drafts },
  { displayName: 'Deleted Items', type: FolderType.DeletedItems },
  { displayName: 'Sent Items', type: FolderType.SentItems },
  { displayName: 'Outbox', type: FolderType.Outbox },
  { displayName: 'Tasks', type: FolderType.Tasks },
  { displayName: 'Calendar', type: FolderType.Calendar },
  { displayName: 'Contacts', type: FolderType.Contacts },
  { displayName: 'Notes', type: FolderType.Notes },
];

/** Basic credentials of the test users; anything else is refused. */
export async function authenticateTestUsers(
  credentials: EasCredentials,
): Promise<MailboxIdentity | undefined> {
  if (credentials.scheme !== 'basic') return undefined;
  const user = Object.values(USERS).find(
    (candidate) => candidate.id === credentials.username && candidate.password === credentials.password,
  );
  return user ? { userId: user.id, addresses: [user.id] } : undefined;
}

/** A real EAS endpoint on 127.0.0.1 over the in-memory stores, with every response body kept for checks. */
export class TestServer {
  readonly mailbox = new MemoryMailboxStore();
  readonly syncState = new MemorySyncStateStore();
  readonly responses: Uint8Array[] = [];
  folders = new Map<string, Folder>();
  #server: Server | undefined;
  url = '';

  constructor(
    readonly syncOptions: SyncCommandOptions = {},
    readonly classes?: readonly ItemClass[],
  ) {}

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
      commands: createEasCommands(
        {
          mailbox: this.mailbox,
          syncState: this.syncState,
          ...(this.classes ? { classes: this.classes } : {}),
        },
        { sync: this.syncOptions },
      ),
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  device(user: keyof typeof USERS, deviceId: string, version: ProtocolVersion = '14.1'): TestDevice {
    return new TestDevice(this, USERS[user], deviceId, version);
  }
}

export interface EasReply {
  status: number;
  body: WbxmlElement | undefined;
  bytes: Uint8Array;
}

/** A device speaking EAS to the test server: builds the query, sends WBXML, decodes the answer. */
export class TestDevice {
  constructor(
    readonly server: TestServer,
    readonly user: { id: string; password: string },
    readonly deviceId: string,
    readonly version: ProtocolVersion,
  ) {}

  async send(command: string, body: WbxmlElement | Uint8Array | undefined): Promise<EasReply> {
    const query = `Cmd=${command}&User=${encodeURIComponent(this.user.id)}&DeviceId=${this.deviceId}&DeviceType=TestPhone`;
    const response = await fetch(`${this.server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${this.user.id}:${this.user.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': this.version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
        'User-Agent': 'easkit-test/1.0',
      },
      body: body === undefined ? undefined : body instanceof Uint8Array ? body : encode(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > 0) this.server.responses.push(bytes);
    return { status: response.status, body: bytes.length > 0 ? decode(bytes) : undefined, bytes };
  }
}

/**
 * Checks that libwbxml's `wbxml2xml`, an implementation nobody here wrote, reads every response. Returns the
 * number checked, or undefined when the tool is missing outside CI (the caller skips loudly).
 */
/**
 * Whether libwbxml's `wbxml2xml` can be run. Missing in CI is an error (the checks against an implementation
 * nobody here wrote must run there); missing on a developer machine returns false after one loud warning.
 */
export async function libwbxmlAvailable(): Promise<boolean> {
  try {
    await run('wbxml2xml', ['-h'], { timeout: 5000 }).catch((error: { code?: unknown }) => {
      if (error.code === 'ENOENT') throw error;
    });
    return true;
  } catch {
    if (process.env.CI) throw new Error('wbxml2xml (Debian package libwbxml2-utils) is required in CI');
    console.warn('SKIPPED libwbxml check: wbxml2xml not installed (apt-get install libwbxml2-utils)');
    return false;
  }
}

export async function decodeAllWithLibwbxml(bodies: readonly Uint8Array[]): Promise<number | undefined> {
  if (!(await libwbxmlAvailable())) return undefined;
  const directory = mkdtempSync(join(tmpdir(), 'easkit-e2e-'));
  try {
    let index = 0;
    for (const body of bodies) {
      const input = join(directory, `r${index}.wbxml`);
      const output = join(directory, `r${index}.xml`);
      index++;
      writeFileSync(input, body);
      const { stdout, stderr } = await run(
        'wbxml2xml',
        ['-l', 'ACTIVESYNC', '-m', '1', '-i', '1', '-o', output, input],
        {
          timeout: 15_000,
        },
      );
      // wbxml2xml may exit 0 on failure; it says "succeeded" when it worked.
      if (!/succeeded/i.test(stdout + stderr)) {
        throw new Error(`wbxml2xml could not read response ${index}: ${stdout}${stderr}`);
      }
    }
    return bodies.length;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Asserts that libwbxml reads every response body and that there were at least `minimum` of them; outside CI
 * without the tool it warns once and returns (in CI a missing tool fails).
 */
export async function expectLibwbxmlReadsAll(bodies: readonly Uint8Array[], minimum: number): Promise<void> {
  const checked = await decodeAllWithLibwbxml(bodies);
  if (checked === undefined) return;
  if (checked !== bodies.length || checked < minimum) {
    throw new Error(
      `libwbxml checked ${checked} of ${bodies.length} responses, expected at least ${minimum}`,
    );
  }
}

/** Heartbeats fired by the test, never by the clock; every interval asked for is kept in `asked`. */
export class ManualTimers implements WaiterTimers {
  readonly pending = new Map<number, () => void>();
  readonly asked: number[] = [];
  #next = 0;
  set(callback: () => void, ms: number): unknown {
    this.asked.push(ms);
    this.pending.set(++this.#next, callback);
    return this.#next;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const callbacks = [...this.pending.values()];
    this.pending.clear();
    for (const callback of callbacks) callback();
  }
}

/** Resolves once `condition` holds (a readiness condition polled on the event loop, not a delay). */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; !condition(); round++) {
    if (round > 2000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * An EAS endpoint over real HTTP with Direct Push: a publishing mailbox on an in-process bus, a waiter registry
 * on manual timers, and every command of createEasCommands (Ping included).
 */
export class PushTestServer {
  readonly memory = new MemoryMailboxStore();
  readonly bus = new InProcessPushBus();
  readonly mailbox: MailboxStore = publishingMailbox(this.memory, this.bus);
  readonly timers = new ManualTimers();
  readonly waiters = new WaiterRegistry({ bus: this.bus, timers: this.timers });
  readonly folders = new Map<string, FolderId>();
  readonly syncState: SyncStateStore;
  #server: Server | undefined;
  url = '';

  constructor(
    readonly pingOptions: PingCommandOptions = {},
    overrides: { syncState?: SyncStateStore } = {},
  ) {
    this.syncState = overrides.syncState ?? new MemorySyncStateStore();
  }

  async start(): Promise<this> {
    for (const [name, user] of Object.entries(USERS)) {
      await this.mailbox.createUser({ id: user.id, primarySmtpAddress: user.id });
      for (const folder of STANDARD_FOLDERS) {
        const created = await this.mailbox.createFolder(user.id, { ...folder, parentId: ROOT_FOLDER_ID });
        this.folders.set(`${name}:${folder.displayName}`, created.id);
      }
    }
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: createEasCommands(
        { mailbox: this.mailbox, syncState: this.syncState, waiters: this.waiters },
        { ping: this.pingOptions },
      ),
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await this.waiters.close();
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  /** A folder's id by user and display name (unknown names come back as given, for bad-id tests). */
  folder(user: keyof typeof USERS, name: string): FolderId {
    return this.folders.get(`${user}:${name}`) ?? name;
  }

  /** Resolves once `count` requests are waiting. */
  waiting(count: number): Promise<void> {
    return until(() => this.waiters.stats().waiters === count, `${count} waiting requests`);
  }

  /** Resolves once the registry has started `count` waits in all (each wait asks for one timer). */
  waitsStarted(count: number): Promise<void> {
    return until(() => this.timers.asked.length >= count, `${count} waits started`);
  }

  /** New mail in a user's folder, written through the publishing mailbox. */
  async newMail(user: keyof typeof USERS, folder: string, subject = 'Hello', received = new Date()) {
    const mime = ['From: a@example.org', `Subject: ${subject}`, 'Content-Type: text/plain', '', 'Hi', ''];
    return this.mailbox.createItem(USERS[user].id, this.folder(user, folder), {
      class: 'Email',
      data: {
        mime: new TextEncoder().encode(mime.join('\r\n')),
        subject,
        dateReceived: received,
        read: false,
        messageClass: 'IPM.Note',
      },
    });
  }
}
