import { type MailboxStore, MemoryMailboxStore } from '@easkit/mailbox';
import { type DeviceStore, MemoryDeviceStore } from '@easkit/policy';
import { InProcessPushBus, type PushBus } from '@easkit/push';
import { MemorySyncStateStore, type SyncStateStore } from '@easkit/sync-state';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';

/** The stores the server runs on, chosen by the configuration, and how to check and release them. */
export interface ServerStores {
  /** The store itself; the app wraps it so that writes publish to `bus`. */
  readonly mailbox: MailboxStore;
  readonly syncState: SyncStateStore;
  readonly devices: DeviceStore;
  readonly bus: PushBus;
  /** Where the data lives, for the start-up line. */
  readonly description: string;
  /** Resolves when every store answers (for /readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the configured stores. */
export async function openStores(config: ServerConfig, _logger: Logger): Promise<ServerStores> {
  switch (config.storage.kind) {
    default: {
      const bus = new InProcessPushBus();
      return {
        mailbox: new MemoryMailboxStore(),
        syncState: new MemorySyncStateStore(),
        devices: new MemoryDeviceStore(),
        bus,
        description: 'in-memory store (nothing is kept after exit)',
        ready: async () => {},
        close: async () => {},
      };
    }
  }
}
