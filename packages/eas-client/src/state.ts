import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SyncOptions } from './commands/sync.js';

/** One folder of the hierarchy as the client last saw it. */
export interface KnownFolder {
  serverId: string;
  parentId: string;
  displayName: string;
  type: number;
}

/** What the client keeps per synced collection. */
export interface CollectionState {
  syncKey: string;
  /** The class, which 2.5 requests name (MS-ASCMD 2.2.3.27.5). */
  class?: string;
  /** The options last given for this collection (window size, filter, body preferences, ...), reused. */
  options?: SyncOptions;
}

/**
 * Everything a device must remember between runs: its identity, the negotiated version, the policy key and
 * the sync keys. Plain JSON, so any store can keep it.
 */
export interface DeviceSnapshot {
  deviceId: string;
  deviceType: string;
  protocolVersion?: string;
  /** The final policy key from Provision; absent before provisioning. */
  policyKey?: string;
  /** The FolderSync key; '0' before the first FolderSync. */
  folderSyncKey: string;
  /** The hierarchy from FolderSync, kept so commands can name folders. */
  folders: KnownFolder[];
  /** Per collection id. */
  collections: Record<string, CollectionState>;
}

/**
 * Where a client keeps its `DeviceSnapshot`. `load` is called once when the client starts, `save` after
 * every change (a new key, a new policy key); a save must be complete before it resolves. One store per
 * device: implementations need not guard against two clients sharing one. `MemoryDeviceState` is the one to
 * copy; `JsonFileDeviceState` keeps a file.
 */
export interface DeviceState {
  load(): Promise<DeviceSnapshot | undefined>;
  save(snapshot: DeviceSnapshot): Promise<void>;
}

export function newSnapshot(deviceId: string, deviceType: string): DeviceSnapshot {
  return { deviceId, deviceType, folderSyncKey: '0', folders: [], collections: {} };
}

/** Keeps the snapshot in memory (a copy, so the caller's object is never shared); what a load generator uses. */
export class MemoryDeviceState implements DeviceState {
  #snapshot: DeviceSnapshot | undefined;

  constructor(initial?: DeviceSnapshot) {
    this.#snapshot = initial ? structuredClone(initial) : undefined;
  }

  async load(): Promise<DeviceSnapshot | undefined> {
    return this.#snapshot ? structuredClone(this.#snapshot) : undefined;
  }

  async save(snapshot: DeviceSnapshot): Promise<void> {
    this.#snapshot = structuredClone(snapshot);
  }

  /** The last saved snapshot, for inspection. */
  get snapshot(): DeviceSnapshot | undefined {
    return this.#snapshot ? structuredClone(this.#snapshot) : undefined;
  }
}

/**
 * Keeps the snapshot in a JSON file. Writes go to a temporary file that is renamed over the old one, so a
 * crash leaves either the old or the new state, never half of one. Saves are serialised.
 */
export class JsonFileDeviceState implements DeviceState {
  #queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<DeviceSnapshot | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const value = JSON.parse(text) as Partial<DeviceSnapshot>;
    if (typeof value.deviceId !== 'string' || typeof value.deviceType !== 'string') {
      throw new Error(`${this.file} is not an easkit-client device state`);
    }
    return {
      ...newSnapshot(value.deviceId, value.deviceType),
      ...value,
    } as DeviceSnapshot;
  }

  save(snapshot: DeviceSnapshot): Promise<void> {
    const text = `${JSON.stringify(snapshot, null, 2)}\n`;
    const next = this.#queue.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const temporary = `${this.file}.${process.pid}.tmp`;
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, this.file);
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
