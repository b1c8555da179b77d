import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FolderId, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import {
  createDeviceAdministration,
  type DeviceAdministration,
  type DeviceStore,
  MemoryDeviceStore,
} from '@easkit/policy';
import { InProcessPushBus, publishingMailbox, WaiterRegistry } from '@easkit/push';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { expect } from 'vitest';
import { createEasCommands } from '../src/commands/index.js';
import type { ProvisionCommandOptions } from '../src/commands/provision.js';
import { policyTypeFor } from '../src/commands/provision-document.js';
import { createEasHandler } from '../src/http/handler.js';
import { createNodeListener } from '../src/http/node-adapter.js';
import { createPolicyGate, type PolicyGate, type PolicyGateOptions } from '../src/http/policy-gate.js';
import { authenticateTestUsers, ManualTimers, STANDARD_FOLDERS, USERS, until } from './harness.js';

const { Provision: PR, Settings: ST, FolderHierarchy: FH, Ping: P, AirSync: AS } = eas;

/**
 * An EAS endpoint with the policy gate switched on: every command of createEasCommands (Ping on manual timers)
 * over a DeviceStore that outlives the server, so a "restart" is a new server on the same store.
 */
export class GatedServer {
  readonly mailbox;
  readonly bus = new InProcessPushBus();
  readonly timers = new ManualTimers();
  readonly waiters = new WaiterRegistry({ bus: this.bus, timers: this.timers });
  readonly syncState = new MemorySyncStateStore();
  readonly folders = new Map<string, FolderId>();
  readonly admin: DeviceAdministration;
  readonly gate: PolicyGate;
  /** Every response body, for the libwbxml check. */
  readonly responses: Uint8Array[];
  #server: Server | undefined;
  url = '';

  constructor(
    readonly devices: DeviceStore = new MemoryDeviceStore(),
    readonly options: {
      gate?: Omit<PolicyGateOptions, 'devices'>;
      provision?: ProvisionCommandOptions;
      memory?: MemoryMailboxStore;
      responses?: Uint8Array[];
    } = {},
  ) {
    this.mailbox = publishingMailbox(options.memory ?? new MemoryMailboxStore(), this.bus);
    this.gate = createPolicyGate({ devices, ...options.gate });
    // Actions that shut a device out end its waiting Ping at once.
    this.admin = createDeviceAdministration({ devices, interrupt: (scope) => this.gate.interrupt(scope) });
    this.responses = options.responses ?? [];
  }

  async start(): Promise<this> {
    for (const [name, user] of Object.entries(USERS)) {
      if (!(await this.mailbox.getUser(user.id).catch(() => null))) {
        await this.mailbox.createUser({ id: user.id, primarySmtpAddress: user.id });
        for (const folder of STANDARD_FOLDERS) {
          await this.mailbox.createFolder(user.id, { ...folder, parentId: ROOT_FOLDER_ID });
        }
      }
      for (const folder of await this.mailbox.listFolders(user.id)) {
        this.folders.set(`${name}:${folder.displayName}`, folder.id);
      }
    }
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: createEasCommands(
        { mailbox: this.mailbox, syncState: this.syncState, waiters: this.waiters, devices: this.devices },
        { ...(this.options.provision ? { provision: this.options.provision } : {}) },
      ),
      policy: this.gate,
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

  device(
    user: keyof typeof USERS,
    deviceId: string,
    version: ProtocolVersion,
    details: { deviceType?: string; userAgent?: string; model?: string } = {},
  ): GatedDevice {
    return new GatedDevice(this, user, deviceId, version, details);
  }

  /** Resolves once `count` requests are waiting (a hanging Ping). */
  waiting(count: number): Promise<void> {
    return until(() => this.waiters.stats().waiters === count, `${count} waiting requests`);
  }
}

export interface GatedReply {
  /** The HTTP status. */
  http: number;
  body: WbxmlElement | undefined;
  /** The top-level Status of the body, when there is one. */
  status: number | undefined;
}

/** A device that keeps the policy key it was given and sends it (X-MS-PolicyKey) with every request. */
export class GatedDevice {
  /** The key sent with requests; 0 or undefined sends none. */
  policyKey: number | undefined;

  constructor(
    readonly server: GatedServer,
    readonly user: keyof typeof USERS,
    readonly deviceId: string,
    public version: ProtocolVersion,
    readonly details: { deviceType?: string; userAgent?: string; model?: string },
  ) {}

  async send(command: string, body: WbxmlElement | undefined, key = this.policyKey): Promise<GatedReply> {
    const account = USERS[this.user];
    const query = `Cmd=${command}&User=${encodeURIComponent(account.id)}&DeviceId=${this.deviceId}&DeviceType=${
      this.details.deviceType ?? 'TestPhone'
    }`;
    const response = await fetch(`${this.server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': this.version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
        'User-Agent': this.details.userAgent ?? 'easkit-test/1.0',
        ...(key ? { 'X-MS-PolicyKey': String(key) } : {}),
      },
      body: body === undefined ? undefined : encode(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > 0) this.server.responses.push(bytes);
    const decoded = bytes.length > 0 ? decode(bytes) : undefined;
    let status: number | undefined;
    try {
      status = decoded?.intOf('Status');
    } catch {
      status = undefined;
    }
    return { http: response.status, body: decoded, status };
  }

  /** Phase 1: the policy download (with DeviceInformation from 14.1 on). */
  download(): Promise<GatedReply> {
    const information =
      this.version === '14.1' || this.version === '16.0' || this.version === '16.1'
        ? ST.DeviceInformation(
            ST.Set(
              ST.Model(this.details.model ?? 'Test model'),
              ST.UserAgent(this.details.userAgent ?? 'easkit-test/1.0'),
            ),
          )
        : null;
    return this.send(
      'Provision',
      PR.Provision(information, PR.Policies(PR.Policy(PR.PolicyType(policyTypeFor(this.version))))),
      0,
    );
  }

  /** Phase 2: acknowledges `temporary` with the given Policy Status (1 applied, 2 partial, 3 not applied). */
  acknowledge(temporary: string, status = 1): Promise<GatedReply> {
    return this.send(
      'Provision',
      PR.Provision(
        PR.Policies(
          PR.Policy(PR.PolicyType(policyTypeFor(this.version)), PR.PolicyKey(temporary), PR.Status(status)),
        ),
      ),
      0,
    );
  }

  /** Both phases; keeps and returns the final key. Fails the test if either phase fails. */
  async provision(): Promise<number> {
    const first = await this.download();
    expect(first.http, 'download').toBe(200);
    const temporary = policyOf(first.body)?.textOf('PolicyKey');
    expect(temporary, 'a temporary key').toMatch(/^\d+$/);
    const second = await this.acknowledge(temporary!);
    expect(second.http, 'acknowledgement').toBe(200);
    const final = policyOf(second.body)?.textOf('PolicyKey');
    expect(final, 'a final key').toMatch(/^\d+$/);
    this.policyKey = Number(final);
    return this.policyKey;
  }

  folderSync(syncKey = '0'): Promise<GatedReply> {
    return this.send('FolderSync', FH.FolderSync(FH.SyncKey(syncKey)));
  }

  /** A first Sync of the Inbox (SyncKey 0). */
  sync(): Promise<GatedReply> {
    const inbox = this.server.folders.get(`${this.user}:Inbox`)!;
    return this.send('Sync', AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)))));
  }

  ping(heartbeatSec = 300): Promise<GatedReply> {
    const inbox = this.server.folders.get(`${this.user}:Inbox`)!;
    return this.send(
      'Ping',
      P.Ping(P.HeartbeatInterval(heartbeatSec), P.Folders(P.Folder(P.Id(inbox), P.Class('Email')))),
    );
  }

  /** An initial Provision answered by a wipe directive, then its acknowledgement (1 wiped, 2 failed). */
  acknowledgeWipe(kind: 'RemoteWipe' | 'AccountOnlyRemoteWipe', status = 1): Promise<GatedReply> {
    return this.send('Provision', PR.Provision(PR[kind](PR.Status(status))), 0);
  }
}

export function policyOf(body: WbxmlElement | undefined): WbxmlElement | undefined {
  return body?.child('Provision:Policies')?.child('Provision:Policy');
}

/**
 * A small well-formedness check (no DTD, no comments): one root, tags nest and close, attributes quoted, no
 * stray `<` or bare `&` in text.
 */
export function expectWellFormedXml(xml: string): void {
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  const open: string[] = [];
  let roots = 0;
  let position = 0;
  for (let match = token.exec(xml); match; match = token.exec(xml)) {
    position = token.lastIndex;
    const [, closing, name, , selfClosing, text] = match;
    if (text !== undefined) {
      expect(open.length, 'text outside the root').toBeGreaterThan(0);
      expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
      continue;
    }
    if (closing) {
      expect(open.pop()).toBe(name);
    } else {
      if (open.length === 0) roots++;
      if (!selfClosing) open.push(name!);
    }
  }
  expect(position, `unreadable XML at ${position}: ${xml.slice(position, position + 40)}`).toBe(xml.length);
  expect(open).toEqual([]);
  expect(roots).toBe(1);
}
