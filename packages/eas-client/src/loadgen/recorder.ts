import type { ExchangeRecord } from '../transport.js';

/** Latency percentiles of one command, in milliseconds. */
export interface LatencySummary {
  count: number;
  /** Answers with HTTP 2xx (or 449, which is part of provisioning). */
  ok: number;
  errors: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** One second of the run. */
export interface SecondSample {
  /** Seconds since the start. */
  t: number;
  requests: number;
  errors: number;
  /** Percentiles of the requests that finished in this second, commands that wait (Ping, hanging Sync) left out. */
  p50: number;
  p95: number;
  max: number;
  /** Devices started so far. */
  devices: number;
}

interface SecondBucket {
  durations: number[];
  requests: number;
  errors: number;
  devices: number;
}

/** `Ping` and a Sync that hangs wait for changes on purpose: their time is not a latency. */
export type LatencyKind = 'answer' | 'wait';

interface CommandStats {
  durations: number[];
  ok: number;
  errors: number;
}

/**
 * Collects every exchange of every simulated device: counts, durations per command, errors by HTTP status or
 * kind, and one sample per second for the chart. Durations are kept whole (a float per request), which stays
 * small for runs of minutes.
 */
export class LoadRecorder {
  readonly #started: number;
  readonly #commands = new Map<string, CommandStats>();
  readonly #errors = new Map<string, number>();
  readonly #seconds: SecondBucket[] = [];
  devicesStarted = 0;
  devicesFailed = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(now: number = performance.now()) {
    this.#started = now;
  }

  get elapsedMs(): number {
    return performance.now() - this.#started;
  }

  /** Records one exchange; `kind` says whether its time is a latency or a wait. */
  record(record: ExchangeRecord, kind: LatencyKind = 'answer'): void {
    const name = kind === 'wait' ? `${record.command} (wait)` : record.command;
    let stats = this.#commands.get(name);
    if (!stats) {
      stats = { durations: [], ok: 0, errors: 0 };
      this.#commands.set(name, stats);
    }
    stats.durations.push(record.durationMs);
    const failed = record.error !== undefined || !(isSuccess(record.status) || record.status === 449);
    if (failed) {
      stats.errors++;
      const key = record.status === 0 ? `network: ${errorName(record.error)}` : `HTTP ${record.status}`;
      this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
    } else {
      stats.ok++;
    }
    this.bytesIn += record.bytesIn;
    this.bytesOut += record.bytesOut;
    const second = this.#second();
    second.requests++;
    if (failed) second.errors++;
    if (kind === 'answer') second.durations.push(record.durationMs);
  }

  /** An error that is not an HTTP exchange (an EAS status, a device that could not start). */
  recordFailure(key: string): void {
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
  }

  deviceStarted(): void {
    this.devicesStarted++;
    this.#second();
  }

  get totalRequests(): number {
    let total = 0;
    for (const stats of this.#commands.values()) total += stats.durations.length;
    return total;
  }

  get totalErrors(): number {
    let total = 0;
    for (const count of this.#errors.values()) total += count;
    return total;
  }

  /** Percentiles of the answer latencies of the last `seconds` seconds (for the progress line). */
  recentP95(seconds = 5): number {
    const recent = this.#seconds.slice(-seconds).flatMap((second) => second.durations);
    return percentile(
      recent.sort((a, b) => a - b),
      0.95,
    );
  }

  commands(): Record<string, LatencySummary> {
    const result: Record<string, LatencySummary> = {};
    for (const [name, stats] of [...this.#commands].sort(([a], [b]) => a.localeCompare(b))) {
      result[name] = summarize(stats);
    }
    return result;
  }

  errors(): Record<string, number> {
    return Object.fromEntries([...this.#errors].sort(([, a], [, b]) => b - a));
  }

  timeline(): SecondSample[] {
    return this.#seconds.map((second, t) => {
      const sorted = [...second.durations].sort((a, b) => a - b);
      return {
        t,
        requests: second.requests,
        errors: second.errors,
        p50: round(percentile(sorted, 0.5)),
        p95: round(percentile(sorted, 0.95)),
        max: round(sorted.at(-1) ?? 0),
        devices: second.devices,
      };
    });
  }

  #second() {
    const index = Math.max(0, Math.floor(this.elapsedMs / 1000));
    while (this.#seconds.length <= index) {
      this.#seconds.push({ durations: [], requests: 0, errors: 0, devices: this.devicesStarted });
    }
    const second = this.#seconds[index] as SecondBucket;
    second.devices = this.devicesStarted;
    return second;
  }
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function errorName(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (cause as { code?: string } | undefined)?.code;
    return code ?? error.name;
  }
  return 'unknown';
}

/** The value below which `q` of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

function summarize(stats: CommandStats): LatencySummary {
  const sorted = [...stats.durations].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    ok: stats.ok,
    errors: stats.errors,
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(sorted.length ? sum / sorted.length : 0),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
