import type { Modseq } from './ids.js';

/** The latest state of one key (an item or folder id) in a {@link ChangeLog}. */
export interface LogState {
  key: string;
  /** The modseq of the key's latest change. */
  modseq: Modseq;
  /** When the key (last) entered the log's scope: created, or moved in. */
  addedModseq: Modseq;
  deleted: boolean;
}

interface Entry {
  seq: number;
  modseq: Modseq;
  key: string;
}

interface Current extends LogState {
  seq: number;
}

/**
 * A modseq-ordered log where every key appears once, at its latest change. Writes append (modseqs only grow),
 * older entries of a rewritten key become stale and are skipped, and the array is compacted once stale entries
 * outnumber live ones, so appends are amortised O(1) and reading the changes after a modseq costs a binary
 * search plus the entries written since then.
 */
export class ChangeLog {
  private entries: Entry[] = [];
  private readonly current = new Map<string, Current>();
  private stale = 0;
  private nextSeq = 0;

  constructor(private floor: Modseq = 0) {}

  /** Records that `key` was added (created or moved in), changed or deleted at `modseq`. */
  record(key: string, modseq: Modseq, kind: 'add' | 'change' | 'delete'): void {
    const last = this.entries.at(-1);
    if ((last && modseq < last.modseq) || modseq < this.floor) {
      throw new Error(`change log: modseq ${modseq} is older than the log's latest`);
    }
    const previous = this.current.get(key);
    if (previous) this.stale++;
    const seq = this.nextSeq++;
    this.current.set(key, {
      key,
      seq,
      modseq,
      addedModseq: kind === 'add' || !previous ? modseq : previous.addedModseq,
      deleted: kind === 'delete',
    });
    this.entries.push({ seq, modseq, key });
    if (this.stale > 64 && this.stale * 2 > this.entries.length) this.compact();
  }

  /** The latest state of a key, tombstones included. */
  get(key: string): LogState | undefined {
    const c = this.current.get(key);
    return c && { key: c.key, modseq: c.modseq, addedModseq: c.addedModseq, deleted: c.deleted };
  }

  /** The modseq of the latest entry, or the log's starting modseq when it is empty. */
  high(): Modseq {
    return this.entries.at(-1)?.modseq ?? this.floor;
  }

  /** The latest state of every key changed after `since`, in ascending modseq order. */
  *since(since: Modseq): Generator<LogState> {
    for (let i = this.firstAfter(since); i < this.entries.length; i++) {
      const e = this.entries[i]!;
      const c = this.current.get(e.key);
      if (c && c.seq === e.seq)
        yield { key: c.key, modseq: c.modseq, addedModseq: c.addedModseq, deleted: c.deleted };
    }
  }

  private firstAfter(since: Modseq): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.modseq > since) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private compact(): void {
    this.entries = this.entries.filter((e) => this.current.get(e.key)?.seq === e.seq);
    this.stale = 0;
  }
}
