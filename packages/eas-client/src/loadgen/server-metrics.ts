import type { FetchFunction } from '../transport.js';

/** What the load generator reads from an easkit server's `/metrics` (Prometheus text) at one moment. */
export interface ServerSample {
  /** Seconds since the start of the run. */
  t: number;
  rssBytes?: number;
  /** CPU used by the server process since the previous sample, as a share of one core (1 = 100 %). */
  cpu?: number;
  waitingRequests?: number;
  heapUsedBytes?: number;
}

export interface ServerResources {
  /** Where they were read; absent when the server exposes none. */
  url?: string;
  samples: ServerSample[];
  peakRssBytes?: number;
  meanCpu?: number;
  peakCpu?: number;
  peakWaitingRequests?: number;
}

/** One value of a series without labels, with or without the `easkit_` prefix of the default metrics. */
export function metricValue(text: string, name: string): number | undefined {
  const pattern = new RegExp(`^(?:easkit_)?${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, 'm');
  const match = pattern.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Reads `/metrics` at `baseUrl` every `intervalMs` while the run lasts. A server without metrics (or another
 * product) simply yields no samples; nothing fails.
 */
export class ServerMetricsReader {
  readonly #url: string;
  readonly #fetch: FetchFunction;
  readonly #samples: ServerSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastCpu: { at: number; seconds: number } | undefined;
  #available = true;
  #pending: Promise<void> | undefined;

  constructor(
    baseUrl: string,
    fetchFunction: FetchFunction,
    readonly startedAt: number,
  ) {
    this.#url = `${baseUrl.replace(/\/+$/, '')}/metrics`;
    this.#fetch = fetchFunction;
  }

  start(intervalMs = 1000): void {
    this.#pending = this.sample();
    this.#timer = setInterval(() => {
      if (this.#available) this.#pending = this.sample();
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<ServerResources> {
    clearInterval(this.#timer);
    await this.#pending;
    if (this.#available) await this.sample();
    return this.resources();
  }

  /** The latest sample, for the progress line. */
  get latest(): ServerSample | undefined {
    return this.#samples.at(-1);
  }

  async sample(): Promise<void> {
    let text: string;
    try {
      const response = await this.#fetch(this.#url, { method: 'GET', signal: AbortSignal.timeout(5000) });
      text = await response.text();
      if (!response.ok) {
        this.#available = false;
        return;
      }
    } catch {
      // A busy server may miss one; a server without the endpoint is noticed by the status above.
      return;
    }
    const now = performance.now();
    const sample: ServerSample = { t: Math.round((now - this.startedAt) / 100) / 10 };
    const rss = metricValue(text, 'process_resident_memory_bytes');
    if (rss !== undefined) sample.rssBytes = rss;
    const heap = metricValue(text, 'nodejs_heap_size_used_bytes');
    if (heap !== undefined) sample.heapUsedBytes = heap;
    const waiting = metricValue(text, 'waiting_requests');
    if (waiting !== undefined) sample.waitingRequests = waiting;
    const cpuSeconds = metricValue(text, 'process_cpu_seconds_total');
    if (cpuSeconds !== undefined) {
      // The process counter moves in steps: a share over less than half a second would be noise.
      if (!this.#lastCpu) this.#lastCpu = { at: now, seconds: cpuSeconds };
      else if (now - this.#lastCpu.at >= 500) {
        sample.cpu =
          Math.round(((cpuSeconds - this.#lastCpu.seconds) / ((now - this.#lastCpu.at) / 1000)) * 100) / 100;
        this.#lastCpu = { at: now, seconds: cpuSeconds };
      }
    }
    if (Object.keys(sample).length > 1) this.#samples.push(sample);
  }

  resources(): ServerResources {
    const samples = this.#samples;
    if (samples.length === 0) return { samples };
    const values = (pick: (sample: ServerSample) => number | undefined) =>
      samples.map(pick).filter((value): value is number => value !== undefined);
    const rss = values((sample) => sample.rssBytes);
    const cpu = values((sample) => sample.cpu);
    const waiting = values((sample) => sample.waitingRequests);
    return {
      url: this.#url,
      samples,
      ...(rss.length ? { peakRssBytes: Math.max(...rss) } : {}),
      ...(cpu.length
        ? {
            meanCpu: Math.round((cpu.reduce((a, b) => a + b, 0) / cpu.length) * 100) / 100,
            peakCpu: Math.max(...cpu),
          }
        : {}),
      ...(waiting.length ? { peakWaitingRequests: Math.max(...waiting) } : {}),
    };
  }
}
