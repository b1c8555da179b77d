import type { EasRequestLog } from '@easkit/eas-commands';

/** One request of a device, as the per-device sync log keeps it. */
export interface DeviceLogEntry {
  at: string;
  command: string | undefined;
  protocolVersion: string | undefined;
  httpStatus: number;
  durationMs: number;
  bytesIn?: number;
  bytesOut?: number;
  itemsSent?: number;
  itemsReceived?: number;
  reason?: string;
}

/**
 * The last requests of each device (like Exchange's mailbox logging), to troubleshoot one phone without
 * turning on debug logs for everyone. In memory, per instance; bounded in requests per device and in devices.
 */
export class DeviceRequestLog {
  readonly #entries = new Map<string, DeviceLogEntry[]>();

  constructor(
    private readonly perDevice = 100,
    private readonly maxDevices = 50_000,
  ) {}

  record(entry: EasRequestLog, at = new Date()): void {
    if (entry.user === undefined || entry.deviceId === undefined) return;
    const key = `${entry.user}\u0000${entry.deviceId}`;
    let list = this.#entries.get(key);
    if (list) this.#entries.delete(key);
    else list = [];
    this.#entries.set(key, list);
    list.push({
      at: at.toISOString(),
      command: entry.command,
      protocolVersion: entry.protocolVersion,
      httpStatus: entry.httpStatus,
      durationMs: Math.round(entry.durationMs * 10) / 10,
      ...(entry.bytesIn === undefined ? {} : { bytesIn: entry.bytesIn, bytesOut: entry.bytesOut ?? 0 }),
      ...(entry.itemsSent === undefined ? {} : { itemsSent: entry.itemsSent }),
      ...(entry.itemsReceived === undefined ? {} : { itemsReceived: entry.itemsReceived }),
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    });
    if (list.length > this.perDevice) list.splice(0, list.length - this.perDevice);
    if (this.#entries.size > this.maxDevices) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  /** Newest last. */
  entries(user: string, deviceId: string): DeviceLogEntry[] {
    return [...(this.#entries.get(`${user}\u0000${deviceId}`) ?? [])];
  }
}
