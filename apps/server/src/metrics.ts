import type { EasRequestLog } from '@easkit/eas-commands';
import type { WaiterRegistry } from '@easkit/push';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics (prom-client), every series prefixed `easkit_`. One registry per server, so
 * several servers in one process (tests) do not share counters.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'command' | 'status'>;
  readonly #latency: Histogram<'command'>;
  readonly #storeErrors: Counter<'command'>;
  readonly #wakeups: Counter;
  readonly #itemsSent: Counter;
  readonly #itemsReceived: Counter;
  readonly #mailIn: Counter<'outcome'>;
  readonly #logins: Counter<'outcome'>;

  constructor(options: { waiters?: () => WaiterRegistry | undefined; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'easkit_' });
    this.#requests = new Counter({
      name: 'easkit_requests_total',
      help: 'EAS requests by command and HTTP status',
      labelNames: ['command', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'easkit_request_duration_seconds',
      help: 'EAS request latency by command (Ping and hanging Sync include their wait)',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'easkit_store_errors_total',
      help: 'Requests that failed with an internal (store) error, by command',
      labelNames: ['command'],
      registers,
    });
    this.#wakeups = new Counter({
      name: 'easkit_push_wakeups_total',
      help: 'Waiting Ping and Sync requests answered because something changed',
      registers,
    });
    this.#itemsSent = new Counter({
      name: 'easkit_sync_items_sent_total',
      help: 'Items sent to devices by Sync',
      registers,
    });
    this.#itemsReceived = new Counter({
      name: 'easkit_sync_items_received_total',
      help: 'Client changes (adds, changes, deletes) received by Sync',
      registers,
    });
    this.#mailIn = new Counter({
      name: 'easkit_mail_in_messages_total',
      help: 'Messages received by the SMTP listener, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#logins = new Counter({
      name: 'easkit_logins_total',
      help: 'Authentication attempts by outcome (ok, failed, locked)',
      labelNames: ['outcome'],
      registers,
    });
    const waiters = options.waiters;
    new Gauge({
      name: 'easkit_waiting_requests',
      help: 'Ping and hanging Sync requests waiting in this process',
      registers,
      collect() {
        this.set(waiters?.()?.stats().waiters ?? 0);
      },
    });
  }

  request(entry: EasRequestLog): void {
    const command = entry.command ?? (entry.method === 'OPTIONS' ? 'OPTIONS' : 'unknown');
    this.#requests.inc({ command, status: String(entry.httpStatus) });
    this.#latency.observe({ command }, entry.durationMs / 1000);
    if (entry.httpStatus >= 500) this.#storeErrors.inc({ command });
  }

  wakeup(): void {
    this.#wakeups.inc();
  }

  itemsSynced(sent: number, received: number): void {
    if (sent > 0) this.#itemsSent.inc(sent);
    if (received > 0) this.#itemsReceived.inc(received);
  }

  mailIn(outcome: 'delivered' | 'rejected' | 'failed'): void {
    this.#mailIn.inc({ outcome });
  }

  login(outcome: 'ok' | 'failed' | 'locked'): void {
    this.#logins.inc({ outcome });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
