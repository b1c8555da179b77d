import { randomBytes } from 'node:crypto';
import type { WbxmlElement } from '@easkit/wbxml';
import {
  type EstimateRequest,
  type EstimateResult,
  estimateRequest,
  type MoveRequest,
  type MoveResult,
  moveItemsRequest,
  readEstimate,
  readMoveItems,
} from './commands/estimate-move.js';
import {
  applyFolderChanges,
  type FolderSyncResult,
  folderSyncRequest,
  readFolderSync,
} from './commands/folder-sync.js';
import {
  type FindRequest,
  type FindResult,
  type FolderChangeResult,
  findRequest,
  folderCreateRequest,
  folderDeleteRequest,
  folderUpdateRequest,
  readFind,
  readFolderChange,
  readValidateCert,
  type ValidateCertRequest,
  type ValidateCertResult,
  validateCertRequest,
} from './commands/folders.js';
import {
  type FetchOptions,
  type FetchTarget,
  fetchRequest,
  type ItemOperationsResult,
  readItemOperations,
} from './commands/item-operations.js';
import {
  type ResolveRecipientsOptions,
  type ResolveRecipientsResult,
  readResolveRecipients,
  readSearch,
  resolveRecipientsRequest,
  type SearchRequest,
  type SearchResult,
  searchRequest,
} from './commands/lookups.js';
import {
  type MeetingResponseRequest,
  type MeetingResponseResult,
  meetingResponseRequest,
  readMeetingResponse,
} from './commands/meeting-response.js';
import { type PingFolder, type PingResult, pingRequest, readPing } from './commands/ping.js';
import {
  acknowledgementRequest,
  type DeviceInformation,
  type ProvisionResult,
  policyRequest,
  readProvision,
  wipeAcknowledgementRequest,
} from './commands/provision.js';
import {
  type ComposeCommand,
  composeRequest,
  legacyComposeRequest,
  readSendMail,
  type SendMailRequest,
  type SendMailResult,
  type SmartMailRequest,
} from './commands/send-mail.js';
import {
  readSettings,
  type SettingsRequest,
  type SettingsResult,
  settingsRequest,
} from './commands/settings.js';
import {
  type ClientChange,
  readSync,
  type SyncCollectionRequest,
  type SyncCollectionResult,
  type SyncItem,
  type SyncOptions,
  type SyncRequestOptions,
  type SyncResult,
  syncRequest,
} from './commands/sync.js';
import {
  EasAccessDeniedError,
  EasNetworkError,
  EasProvisionError,
  EasRemoteWipeError,
  EasStatusError,
} from './errors.js';
import {
  ACCESS_STATUSES,
  atLeast,
  classOfFolderType,
  type EasCommand,
  type EasVersion,
  isEasVersion,
  negotiateVersion,
  PROVISION_STATUSES,
} from './protocol.js';
import type { QueryParameters } from './query.js';
import {
  type DeviceSnapshot,
  type DeviceState,
  type KnownFolder,
  MemoryDeviceState,
  newSnapshot,
} from './state.js';
import {
  type EasCredentials,
  type EasResponse,
  EasTransport,
  type ServerOptions,
  type TransportOptions,
} from './transport.js';

export interface EasClientOptions extends Omit<TransportOptions, 'url' | 'credentials'> {
  /** The EAS endpoint (`https://host/Microsoft-Server-ActiveSync`), e.g. from `autodiscover()`. */
  url: string;
  credentials: EasCredentials;
  /** Where identity, policy key and sync keys are kept. Default: in memory. */
  state?: DeviceState;
  /** Used when the state holds no device yet. Default: a random 32-character id. */
  deviceId?: string;
  /** Default `easkit`. */
  deviceType?: string;
  /**
   * The highest version to use. The client asks OPTIONS for the server's versions and uses the highest one
   * both speak, at most this one. A version kept in the state is reused without asking.
   */
  protocolVersion?: EasVersion;
  /** Sent with Provision from 14.1 on (MS-ASPROV 3.1.5.1.1.1). */
  deviceInformation?: DeviceInformation;
  /** How the policy was applied, in the acknowledgement: 1 applied (default), 2 partly, 3 not, 4 by a third party. */
  policyAcknowledgement?: 1 | 2 | 3 | 4;
  /**
   * Called when the server orders a wipe: wipe what the kind says and answer whether it worked. The
   * client acknowledges with that answer, forgets its state and ends the operation with `EasRemoteWipeError`.
   * Default: answers true.
   */
  onWipe?: (kind: 'device' | 'account') => boolean | Promise<boolean>;
  /** Defaults for every collection's Sync (window size 100 unless set). */
  syncDefaults?: SyncOptions;
  /** Resend a Sync whose answer was lost, with the same key, this many times. Default 1. */
  syncRetries?: number;
}

/** What one collection's sync brought, over all rounds (prime, MoreAvailable loops). */
export interface CollectionSyncOutcome {
  collectionId: string;
  syncKey: string;
  /** The last collection status (1 success). */
  status: number;
  rounds: number;
  /** The key was unknown to the server (Status 3) and the collection was synced again from 0. */
  resynced: boolean;
  added: SyncItem[];
  changed: SyncItem[];
  deleted: string[];
  softDeleted: string[];
  responses: SyncCollectionResult['responses'];
  /** The server id of each client Add, by ClientId. */
  idMap: Record<string, string>;
}

export interface CollectionSyncInput extends SyncOptions {
  collectionId: string;
  commands?: ClientChange[];
  getChanges?: boolean;
}

export interface ProvisionOutcome {
  policyKey?: string;
  settings?: Record<string, string>;
  wapDocument?: string;
  /** Set when the server ordered a wipe (acknowledged; the state is cleared). */
  wiped?: 'device' | 'account';
  result: ProvisionResult;
}

export type WatchEvent =
  | { kind: 'changes'; folder: KnownFolder | undefined; outcome: CollectionSyncOutcome }
  | { kind: 'idle' }
  | { kind: 'hierarchy'; result: FolderSyncResult }
  | { kind: 'heartbeat-adjusted'; heartbeatInterval: number };

export interface WatchOptions {
  /** Collection ids to watch; default: every Email, Calendar, Contacts, Tasks and Notes folder. */
  collections?: string[];
  /** Seconds; default 480. The server may adjust it (Ping Status 5). */
  heartbeatInterval?: number;
  /**
   * Before the first Ping: `report` (default) syncs the watched collections and yields what they bring;
   * `silent` syncs them without yielding; `skip` syncs only collections never synced yet (silently), since a
   * Ping cannot watch a collection without a key.
   */
  initialSync?: 'report' | 'silent' | 'skip';
  signal?: AbortSignal;
}

export interface CommandOptions {
  body?: WbxmlElement | Uint8Array;
  contentType?: string;
  parameters?: QueryParameters;
  extraTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A typed Exchange ActiveSync client for one device of one account. It negotiates the version, provisions when
 * the server asks (HTTP 449 or Status 140-144) and retries once, keeps its keys in a `DeviceState`, and holds
 * no global state: many clients can run in one process, each with its own transport, `fetch` and state.
 */
export class EasClient {
  readonly transport: EasTransport;
  readonly #options: EasClientOptions;
  readonly #state: DeviceState;
  #snapshot: DeviceSnapshot;
  #serverOptions: ServerOptions | undefined;

  private constructor(options: EasClientOptions, state: DeviceState, snapshot: DeviceSnapshot) {
    this.#options = options;
    this.#state = state;
    this.#snapshot = snapshot;
    this.transport = new EasTransport(options);
  }

  /** Loads (or creates) the device state and returns the client; no request is sent yet. */
  static async open(options: EasClientOptions): Promise<EasClient> {
    const state = options.state ?? new MemoryDeviceState();
    let snapshot = await state.load();
    if (!snapshot) {
      snapshot = newSnapshot(
        options.deviceId ?? randomBytes(16).toString('hex').toUpperCase(),
        options.deviceType ?? 'easkit',
      );
      await state.save(snapshot);
    }
    return new EasClient(options, state, snapshot);
  }

  /** A copy of what the client keeps. */
  get snapshot(): DeviceSnapshot {
    return structuredClone(this.#snapshot);
  }

  get deviceId(): string {
    return this.#snapshot.deviceId;
  }

  /** The version in use, once negotiated. */
  get protocolVersion(): string | undefined {
    return this.#snapshot.protocolVersion;
  }

  get policyKey(): string | undefined {
    return this.#snapshot.policyKey;
  }

  /** The hierarchy from the last FolderSync. */
  get folders(): readonly KnownFolder[] {
    return this.#snapshot.folders;
  }

  /** The server's OPTIONS answer, once asked. */
  get serverOptions(): ServerOptions | undefined {
    return this.#serverOptions;
  }

  /** The first folder of this type (2 Inbox, 8 Calendar, ...) or with this display name. */
  folder(which: number | string): KnownFolder | undefined {
    return this.#snapshot.folders.find((folder) =>
      typeof which === 'number'
        ? folder.type === which
        : folder.displayName.toLowerCase() === which.toLowerCase(),
    );
  }

  /** OPTIONS (MS-ASHTTP 2.2.3): checks the credentials and picks the version. */
  async connect(): Promise<ServerOptions> {
    const offered = await this.transport.options({
      deviceId: this.#snapshot.deviceId,
      deviceType: this.#snapshot.deviceType,
    });
    this.#serverOptions = offered;
    const version = negotiateVersion(
      offered.versions.length > 0 ? offered.versions : [this.#options.protocolVersion ?? '14.1'],
      this.#options.protocolVersion,
    );
    if (!version) {
      throw new EasProvisionError(
        `the server offers ${offered.versions.join(', ') || 'no versions'}, none of which this client speaks${
          this.#options.protocolVersion ? ` at or below ${this.#options.protocolVersion}` : ''
        }`,
      );
    }
    if (this.#snapshot.protocolVersion !== version) {
      this.#snapshot.protocolVersion = version;
      await this.#save();
    }
    return offered;
  }

  /** The two-phase Provision of MS-ASPROV 3.1.5.1 (or a wipe acknowledgement when the server orders one). */
  async provision(): Promise<ProvisionOutcome> {
    const version = await this.#version();
    const first = readProvision(
      (await this.#send('Provision', policyRequest(version, this.#options.deviceInformation))).body,
    );
    if (first.remoteWipe) return this.#wipe(first.remoteWipe, first);
    if (first.status !== 1) throw new EasStatusError('Provision', first.status);
    if (first.policyStatus === 2) {
      // No policy for this device: it works without a key.
      delete this.#snapshot.policyKey;
      await this.#save();
      return { result: first };
    }
    if (first.policyStatus !== 1 || !first.policyKey) {
      throw new EasStatusError(
        'Provision',
        first.policyStatus ?? first.status,
        `Provision: Policy Status ${first.policyStatus}`,
      );
    }
    const second = readProvision(
      (
        await this.#send(
          'Provision',
          acknowledgementRequest(version, first.policyKey, this.#options.policyAcknowledgement ?? 1),
          first.policyKey,
        )
      ).body,
    );
    if (second.remoteWipe) return this.#wipe(second.remoteWipe, second);
    if (second.status !== 1) throw new EasStatusError('Provision', second.status);
    if (second.policyStatus !== 1 || !second.policyKey) {
      throw new EasStatusError(
        'Provision',
        second.policyStatus ?? 0,
        `Provision acknowledgement: Policy Status ${second.policyStatus}`,
      );
    }
    this.#snapshot.policyKey = second.policyKey;
    await this.#save();
    return {
      policyKey: second.policyKey,
      ...(first.settings ? { settings: first.settings } : {}),
      ...(first.wapDocument !== undefined ? { wapDocument: first.wapDocument } : {}),
      result: second,
    };
  }

  async #wipe(kind: 'device' | 'account', result: ProvisionResult): Promise<ProvisionOutcome> {
    const succeeded = (await this.#options.onWipe?.(kind)) ?? true;
    await this.#send('Provision', wipeAcknowledgementRequest(kind, succeeded));
    const { deviceId, deviceType, protocolVersion } = this.#snapshot;
    this.#snapshot = {
      ...newSnapshot(deviceId, deviceType),
      ...(protocolVersion ? { protocolVersion } : {}),
    };
    await this.#save();
    return { wiped: kind, result };
  }

  /**
   * Sends any command with the client's identity, version and policy key. Provisions and retries once when the
   * server asks for it; throws `EasAccessDeniedError` for 403 and the 14.0+ access statuses.
   */
  async command(command: EasCommand, options: CommandOptions = {}): Promise<EasResponse> {
    const version = await this.#version();
    let provisioned = false;
    for (;;) {
      let response: EasResponse;
      try {
        response = await this.transport.send({
          command,
          version,
          deviceId: this.#snapshot.deviceId,
          deviceType: this.#snapshot.deviceType,
          ...(this.#snapshot.policyKey !== undefined ? { policyKey: this.#snapshot.policyKey } : {}),
          ...options,
        });
      } catch (error) {
        // Exchange answers 403 to a 2.5-12.1 request without a key when it enforces policies (MS-ASHTTP
        // 3.1.5.2.1): a client that has no key yet provisions once before taking the 403 as final.
        const unprovisioned = this.#snapshot.policyKey === undefined && !atLeast(version, '14.0');
        if (!(error instanceof EasAccessDeniedError) || !unprovisioned || provisioned) throw error;
        const outcome = await this.provision();
        if (outcome.wiped) throw new EasRemoteWipeError(outcome.wiped);
        provisioned = true;
        continue;
      }
      const status = topLevelStatus(response.body);
      const wantsProvision =
        response.status === 449 || (status !== undefined && PROVISION_STATUSES.has(status));
      if (status !== undefined && ACCESS_STATUSES.has(status)) {
        throw new EasAccessDeniedError(
          response.status,
          `${command} refused with Status ${status}`,
          response.headers,
          status,
        );
      }
      if (!wantsProvision) return response;
      if (provisioned) {
        throw new EasProvisionError(
          `${command} still asks for Provision after provisioning (${status ?? response.status})`,
        );
      }
      const outcome = await this.provision();
      if (outcome.wiped) throw new EasRemoteWipeError(outcome.wiped);
      provisioned = true;
    }
  }

  /** FolderSync (MS-ASCMD 2.2.1.5): updates the kept hierarchy; an unknown key (Status 9) starts again from 0. */
  async folderSync(): Promise<FolderSyncResult & { folders: KnownFolder[] }> {
    let result = readFolderSync(
      (await this.command('FolderSync', { body: folderSyncRequest(this.#snapshot.folderSyncKey) })).body,
    );
    if (result.status === 9 && this.#snapshot.folderSyncKey !== '0') {
      this.#snapshot.folderSyncKey = '0';
      this.#snapshot.folders = [];
      result = readFolderSync((await this.command('FolderSync', { body: folderSyncRequest('0') })).body);
    }
    if (result.status === 1 && result.syncKey !== undefined) {
      if (this.#snapshot.folderSyncKey === '0') this.#snapshot.folders = [];
      this.#snapshot.folderSyncKey = result.syncKey;
      this.#snapshot.folders = applyFolderChanges(this.#snapshot.folders, result);
      for (const id of result.deleted) delete this.#snapshot.collections[id];
      await this.#save();
    }
    return { ...result, folders: [...this.#snapshot.folders] };
  }

  /**
   * One Sync round for these collections with the kept keys; saves the new keys. A request whose answer is lost
   * (network error, timeout) is sent again unchanged, with the same keys: the server answers a repeated key with
   * the same outcome, so nothing is lost or added twice (MS-ASCMD 3.1.5.3).
   */
  async sync(collections: CollectionSyncInput[], options: SyncRequestOptions = {}): Promise<SyncResult> {
    const version = await this.#version();
    const requests: SyncCollectionRequest[] = collections.map((input) => {
      const kept = this.#snapshot.collections[input.collectionId];
      const collectionClass = kept?.class ?? this.#classOf(input.collectionId);
      return {
        windowSize: 100,
        ...this.#options.syncDefaults,
        ...kept?.options,
        ...input,
        syncKey: kept?.syncKey ?? '0',
        ...(collectionClass ? { class: collectionClass } : {}),
      };
    });
    const given = new Map(collections.map((input) => [input.collectionId, syncOptionsOf(input)]));
    const body = syncRequest(version, requests, options);
    const extraTimeoutMs = (options.heartbeatInterval ?? (options.wait ?? 0) * 60) * 1000;
    let attempts = this.#options.syncRetries ?? 1;
    for (;;) {
      try {
        const response = await this.command('Sync', { body, extraTimeoutMs });
        const result = readSync(response.body);
        for (const collection of result.collections) {
          const kept = this.#snapshot.collections[collection.collectionId];
          const collectionClass = kept?.class ?? this.#classOf(collection.collectionId);
          // Options given once are kept for the collection, as a device keeps its per-folder settings.
          const keptOptions = { ...kept?.options, ...given.get(collection.collectionId) };
          const rest = {
            ...(collectionClass ? { class: collectionClass } : {}),
            ...(Object.keys(keptOptions).length > 0 ? { options: keptOptions } : {}),
          };
          if (collection.status === 1 && collection.syncKey !== undefined) {
            this.#snapshot.collections[collection.collectionId] = { syncKey: collection.syncKey, ...rest };
          } else if (collection.status === 3) {
            this.#snapshot.collections[collection.collectionId] = { syncKey: '0', ...rest };
          }
        }
        await this.#save();
        return result;
      } catch (error) {
        if (!(error instanceof EasNetworkError) || attempts <= 0) throw error;
        attempts--;
      }
    }
  }

  /**
   * Brings one collection up to date: primes it (key 0), sends `commands` once, then follows MoreAvailable
   * until the server has nothing more (at most `maxRounds` rounds). An unknown key (Status 3) starts the
   * collection again from 0, once.
   */
  async syncCollection(
    collectionId: string,
    options: Omit<CollectionSyncInput, 'collectionId'> & { maxRounds?: number } = {},
  ): Promise<CollectionSyncOutcome> {
    const { maxRounds = 100, commands, ...syncOptions } = options;
    const outcome: CollectionSyncOutcome = {
      collectionId,
      syncKey: '0',
      status: 1,
      rounds: 0,
      resynced: false,
      added: [],
      changed: [],
      deleted: [],
      softDeleted: [],
      responses: { added: [], changed: [], deleted: [], fetched: [] },
      idMap: {},
    };
    let pending = commands && commands.length > 0 ? commands : undefined;
    while (outcome.rounds < maxRounds) {
      const key = this.#snapshot.collections[collectionId]?.syncKey ?? '0';
      const priming = key === '0';
      const result = await this.sync([
        { collectionId, ...syncOptions, ...(!priming && pending ? { commands: pending } : {}) },
      ]);
      outcome.rounds++;
      const collection = result.collections.find((entry) => entry.collectionId === collectionId);
      if (!collection) {
        // An empty answer: nothing changed. A top-level error status is reported as the outcome's status.
        outcome.status = result.status === 0 ? 1 : result.status;
        break;
      }
      outcome.status = collection.status;
      if (collection.status === 3 && !outcome.resynced) {
        outcome.resynced = true;
        continue;
      }
      if (collection.status !== 1) break;
      if (!priming) pending = undefined;
      outcome.added.push(...collection.added);
      outcome.changed.push(...collection.changed);
      outcome.deleted.push(...collection.deleted);
      outcome.softDeleted.push(...collection.softDeleted);
      for (const kind of ['added', 'changed', 'deleted', 'fetched'] as const) {
        (outcome.responses[kind] as unknown[]).push(...collection.responses[kind]);
      }
      for (const added of collection.responses.added) {
        if (added.serverId !== undefined) outcome.idMap[added.clientId] = added.serverId;
      }
      if (!priming && !collection.moreAvailable && !pending) break;
    }
    outcome.syncKey = this.#snapshot.collections[collectionId]?.syncKey ?? '0';
    return outcome;
  }

  /** One Ping (MS-ASCMD 2.2.1.13): waits up to `heartbeatInterval` seconds for a change in these folders. */
  async ping(folders: PingFolder[], heartbeatInterval: number, signal?: AbortSignal): Promise<PingResult> {
    const response = await this.command('Ping', {
      body: pingRequest(heartbeatInterval, folders),
      extraTimeoutMs: heartbeatInterval * 1000,
      ...(signal ? { signal } : {}),
    });
    return readPing(response.body);
  }

  /**
   * Direct Push as a device does it: Ping the watched folders, and when the server reports changes, sync the
   * changed folders and yield what they brought. Ends when `signal` aborts.
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    const { signal } = options;
    let heartbeat = options.heartbeatInterval ?? 480;
    if (this.#snapshot.folderSyncKey === '0') yield { kind: 'hierarchy', result: await this.folderSync() };
    const watched = () =>
      (
        options.collections ??
        this.#snapshot.folders
          .filter((folder) => {
            const folderClass = classOfFolderType(folder.type);
            // Notes became a synced class in 14.0 (MS-ASNOTE).
            return folderClass === 'Notes'
              ? atLeast(this.#snapshot.protocolVersion ?? '2.5', '14.0')
              : !!folderClass;
          })
          .map((folder) => folder.serverId)
      ).map((id) => ({ id, class: this.#classOf(id) ?? 'Email' }));
    const initial = options.initialSync ?? 'report';
    for (const folder of watched()) {
      if (initial === 'skip' && (this.#snapshot.collections[folder.id]?.syncKey ?? '0') !== '0') continue;
      const outcome = await this.syncCollection(folder.id);
      const changes =
        outcome.added.length + outcome.changed.length + outcome.deleted.length + outcome.softDeleted.length;
      if (initial === 'report' && changes > 0) {
        yield { kind: 'changes', folder: this.#folderById(folder.id), outcome };
      }
    }
    while (!signal?.aborted) {
      let result: PingResult;
      try {
        result = await this.ping(watched(), heartbeat, signal);
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
      switch (result.status) {
        case 1:
          yield { kind: 'idle' };
          break;
        case 2:
          for (const id of result.folders) {
            const outcome = await this.syncCollection(id);
            yield { kind: 'changes', folder: this.#folderById(id), outcome };
          }
          break;
        case 5:
          if (result.heartbeatInterval === undefined || result.heartbeatInterval === heartbeat) {
            throw new EasStatusError('Ping', 5);
          }
          heartbeat = result.heartbeatInterval;
          yield { kind: 'heartbeat-adjusted', heartbeatInterval: heartbeat };
          break;
        case 7:
          yield { kind: 'hierarchy', result: await this.folderSync() };
          break;
        default:
          throw new EasStatusError('Ping', result.status);
      }
    }
  }

  /** GetItemEstimate (MS-ASCMD 2.2.1.9) for collections that have been synced at least once. */
  async getItemEstimate(
    collections: (Omit<EstimateRequest, 'syncKey'> & { syncKey?: string })[],
  ): Promise<EstimateResult[]> {
    const version = await this.#version();
    const requests = collections.map((collection) => {
      const itemClass = collection.class ?? this.#classOf(collection.collectionId);
      return {
        ...collection,
        syncKey: collection.syncKey ?? this.#snapshot.collections[collection.collectionId]?.syncKey ?? '0',
        ...(itemClass ? { class: itemClass } : {}),
      };
    });
    return readEstimate(
      (await this.command('GetItemEstimate', { body: estimateRequest(version, requests) })).body,
    );
  }

  /** MoveItems (MS-ASCMD 2.2.1.12); Status 3 is success. */
  async moveItems(moves: MoveRequest[]): Promise<MoveResult[]> {
    return readMoveItems((await this.command('MoveItems', { body: moveItemsRequest(moves) })).body);
  }

  /** ItemOperations Fetch (12.0+): items, attachments, Search results. */
  async itemOperations(
    targets: (FetchTarget & FetchOptions)[],
    options: { multipart?: boolean } = {},
  ): Promise<ItemOperationsResult> {
    const response = await this.command('ItemOperations', {
      body: fetchRequest(targets),
      ...(options.multipart ? { parameters: { acceptMultiPart: true } } : {}),
    });
    return readItemOperations(response.body, response.parts);
  }

  /**
   * An attachment's bytes: ItemOperations Fetch by FileReference from 14.0 (and 12.x), GetAttachment with the
   * reference in the query for 2.5 (MS-ASCMD 2.2.1.8).
   */
  async getAttachment(fileReference: string): Promise<{ contentType?: string; bytes: Uint8Array }> {
    const version = await this.#version();
    if (!atLeast(version, '12.0')) {
      const response = await this.command('GetAttachment', { parameters: { attachmentName: fileReference } });
      return {
        ...(response.contentType ? { contentType: response.contentType } : {}),
        bytes: response.bytes ?? new Uint8Array(),
      };
    }
    const result = await this.itemOperations([{ fileReference }]);
    const fetched = result.fetches[0];
    if (fetched?.status !== 1) throw new EasStatusError('ItemOperations', fetched?.status ?? result.status);
    return {
      ...(fetched.contentType ? { contentType: fetched.contentType } : {}),
      bytes: fetched.bytes ?? new Uint8Array(),
    };
  }

  /** SendMail: the 14.0+ ComposeMail form, or the raw MIME form for 2.5-12.1. */
  sendMail(request: SendMailRequest): Promise<SendMailResult> {
    return this.#compose('SendMail', request);
  }

  /** SmartReply: the server quotes the original (unless `replaceMime`). */
  smartReply(request: SmartMailRequest): Promise<SendMailResult> {
    return this.#compose('SmartReply', request);
  }

  /** SmartForward: the server attaches the original (unless `replaceMime`). */
  smartForward(request: SmartMailRequest): Promise<SendMailResult> {
    return this.#compose('SmartForward', request);
  }

  async #compose(
    command: ComposeCommand,
    request: SendMailRequest | SmartMailRequest,
  ): Promise<SendMailResult> {
    const version = await this.#version();
    if (atLeast(version, '14.0')) {
      const clientId = request.clientId ?? randomBytes(12).toString('hex');
      return readSendMail(
        (await this.command(command, { body: composeRequest(command, request, clientId) })).body,
      );
    }
    const legacy = legacyComposeRequest(request);
    const response = await this.command(command, {
      body: legacy.body,
      contentType: 'message/rfc822',
      parameters: legacy.parameters,
    });
    return readSendMail(response.body);
  }

  /** Search (MS-ASCMD 2.2.1.16) of the GAL or the mailbox. */
  async search(request: SearchRequest): Promise<SearchResult> {
    const version = await this.#version();
    return readSearch((await this.command('Search', { body: searchRequest(version, request) })).body);
  }

  /** ResolveRecipients (MS-ASCMD 2.2.1.15). */
  async resolveRecipients(
    to: string[],
    options: ResolveRecipientsOptions = {},
  ): Promise<ResolveRecipientsResult> {
    const version = await this.#version();
    return readResolveRecipients(
      (await this.command('ResolveRecipients', { body: resolveRecipientsRequest(version, to, options) }))
        .body,
    );
  }

  /** Settings (12.0+, MS-ASCMD 2.2.1.18). */
  async settings(request: SettingsRequest): Promise<SettingsResult> {
    const version = await this.#version();
    return readSettings((await this.command('Settings', { body: settingsRequest(version, request) })).body);
  }

  /** MeetingResponse (MS-ASCMD 2.2.1.11). */
  async meetingResponse(requests: MeetingResponseRequest[]): Promise<MeetingResponseResult[]> {
    const version = await this.#version();
    return readMeetingResponse(
      (await this.command('MeetingResponse', { body: meetingResponseRequest(version, requests) })).body,
    );
  }

  /** FolderCreate (MS-ASCMD 2.2.1.3) under `parentId` (`'0'` for the top); keeps the new hierarchy key and folder. */
  async folderCreate(parentId: string, displayName: string, type: number): Promise<FolderChangeResult> {
    const result = await this.#folderChange(
      'FolderCreate',
      folderCreateRequest(await this.#hierarchyKey(), parentId, displayName, type),
    );
    if (result.status === 1 && result.serverId !== undefined) {
      this.#snapshot.folders = [
        ...this.#snapshot.folders,
        { serverId: result.serverId, parentId, displayName, type },
      ];
      await this.#save();
    }
    return result;
  }

  /** FolderUpdate (MS-ASCMD 2.2.1.5): renames and/or moves a folder. */
  async folderUpdate(serverId: string, parentId: string, displayName: string): Promise<FolderChangeResult> {
    const result = await this.#folderChange(
      'FolderUpdate',
      folderUpdateRequest(await this.#hierarchyKey(), serverId, parentId, displayName),
    );
    if (result.status === 1) {
      this.#snapshot.folders = this.#snapshot.folders.map((folder) =>
        folder.serverId === serverId ? { ...folder, parentId, displayName } : folder,
      );
      await this.#save();
    }
    return result;
  }

  /** FolderDelete (MS-ASCMD 2.2.1.4): the folder and what it holds. */
  async folderDelete(serverId: string): Promise<FolderChangeResult> {
    const result = await this.#folderChange(
      'FolderDelete',
      folderDeleteRequest(await this.#hierarchyKey(), serverId),
    );
    if (result.status === 1) {
      this.#snapshot.folders = this.#snapshot.folders.filter((folder) => folder.serverId !== serverId);
      delete this.#snapshot.collections[serverId];
      await this.#save();
    }
    return result;
  }

  async #hierarchyKey(): Promise<string> {
    if (this.#snapshot.folderSyncKey === '0') await this.folderSync();
    return this.#snapshot.folderSyncKey;
  }

  async #folderChange(command: 'FolderCreate' | 'FolderUpdate' | 'FolderDelete', body: WbxmlElement) {
    const result = readFolderChange((await this.command(command, { body })).body);
    if (result.status === 1 && result.syncKey !== undefined) this.#snapshot.folderSyncKey = result.syncKey;
    return result;
  }

  /** ValidateCert (MS-ASCMD 2.2.1.22): the server's opinion of certificates (DER), e.g. a recipient's. */
  async validateCert(request: ValidateCertRequest): Promise<ValidateCertResult> {
    return readValidateCert(
      (await this.command('ValidateCert', { body: validateCertRequest(request) })).body,
    );
  }

  /** Find (16.1, MS-ASCMD 2.2.1.6): a mail or GAL search. */
  async find(request: FindRequest): Promise<FindResult> {
    return readFind((await this.command('Find', { body: findRequest(request) })).body);
  }

  /** Forgets the sync state of every collection and the hierarchy (keeps identity, version and policy key). */
  async resetSyncState(): Promise<void> {
    this.#snapshot.folderSyncKey = '0';
    this.#snapshot.folders = [];
    this.#snapshot.collections = {};
    await this.#save();
  }

  #classOf(collectionId: string): string | undefined {
    const folder = this.#folderById(collectionId);
    return folder ? classOfFolderType(folder.type) : this.#snapshot.collections[collectionId]?.class;
  }

  #folderById(collectionId: string): KnownFolder | undefined {
    return this.#snapshot.folders.find((folder) => folder.serverId === collectionId);
  }

  async #version(): Promise<string> {
    const kept = this.#snapshot.protocolVersion;
    if (kept && isEasVersion(kept)) return kept;
    await this.connect();
    return this.#snapshot.protocolVersion as string;
  }

  /**
   * Provision requests go straight to the transport: they never trigger another Provision. The first phase and
   * the wipe acknowledgement carry no policy key; the acknowledgement carries the temporary one (MS-ASPROV
   * 2.2.2.42, 3.1.5.1.2.1).
   */
  async #send(command: 'Provision', body: WbxmlElement, policyKey?: string): Promise<EasResponse> {
    const response = await this.transport.send({
      command,
      version: await this.#version(),
      deviceId: this.#snapshot.deviceId,
      deviceType: this.#snapshot.deviceType,
      ...(policyKey !== undefined ? { policyKey } : {}),
      body,
    });
    if (response.status === 449) throw new EasProvisionError('the server answered Provision with 449');
    return response;
  }

  async #save(): Promise<void> {
    await this.#state.save(this.#snapshot);
  }
}

const SYNC_OPTION_KEYS = [
  'windowSize',
  'filterType',
  'bodyPreferences',
  'mimeSupport',
  'conflict',
  'deletesAsMoves',
  'conversationMode',
] as const satisfies readonly (keyof SyncOptions)[];

/** The per-collection options among a request's fields. */
function syncOptionsOf(input: SyncOptions): SyncOptions {
  const options: Record<string, unknown> = {};
  for (const key of SYNC_OPTION_KEYS) if (input[key] !== undefined) options[key] = input[key];
  return options as SyncOptions;
}

/** The Status child of a command's root element, which 14.0+ servers use for 140-144 and the access statuses. */
function topLevelStatus(body: WbxmlElement | undefined): number | undefined {
  const text = body?.child(`${body.namespace}:Status`)?.text;
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isInteger(value) ? value : undefined;
}
