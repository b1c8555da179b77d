/**
 * A bounded map whose entries expire: what the authenticators use to accept a login they checked moments ago
 * without checking it again (devices authenticate every request). Oldest entries go first when full.
 */
export class ExpiringMap<Value> {
  readonly #entries = new Map<string, { value: Value; until: number }>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(max: number, now: () => number = Date.now) {
    this.#max = max;
    this.#now = now;
  }

  get(key: string): Value | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until > this.#now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until the time `until` (ms since the epoch); nothing when that is not in the future. */
  set(key: string, value: Value, until: number): void {
    if (this.#max <= 0 || until <= this.#now()) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
