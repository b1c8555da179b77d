import type { Modseq } from './ids.js';

/** One entry of a {@link ChangeLog} as `since` yields it. */
export interface LogEntry {
  key: string;
  /** Where the entry sits in the log: the modseq of the write that put it there. */
  modseq: Modseq;
  /** When the key (last) entered the log's scope: created, or moved in. */
  addedModseq: Modseq;
  /** The modseq of the key's latest write. */
  latestModseq: Modseq;
  /** The key's current state is a tombstone. */
  deleted: boolean;
}

interface Slot {
  seq: number;
  modseq: Modseq;
  key: string;
}

interface Current {
  /** The entry at the key's latest write. */
  latestSeq: number;
  /** The entry at the key's creation, kept while the key is live (it may be the same entry as the latest). */
  addSeq: number | undefined;
  modseq: Modseq;
  addedModseq: Modseq;
  deleted: boolean;
}

/**
 * A modseq-ordered log of keys (item or folder ids). A live key has an entry at its latest write and keeps one
 * at its creation; a deleted key keeps only its tombstone. Keeping the creation entry in place matters for
 * paging: a reader whose cursor passes a key's creation has always been shown the key's add, even when the key
 * was rewritten (and its latest entry moved past the cursor) between two pages.
 *
 * Writes append (modseqs only grow); superseded entries go stale and are skipped, and the array is compacted
 * once stale entries outnumber live ones. So appends are amortised O(1) and reading what changed after a
 * modseq costs a binary search plus the entries written since then, never the size of the log.
 */
export class ChangeLog {
  private slots: Slot[] = [];
  private readonly current = new Map<string, Current>();
  private stale = 0;
  private nextSeq = 0;

  /** `floor`: the modseq the log starts at (the folder's creation), reported by `high` while it is empty. */
  constructor(private readonly floor: Modseq = 0) {}

  /** Records that `key` was added (created or moved in), changed or deleted at `modseq`. */
  record(key: string, modseq: Modseq, kind: 'add' | 'change' | 'delete'): void {
    const last = this.slots.at(-1);
    if ((last && modseq < last.modseq) || modseq < this.floor) {
      throw new Error(`change log: modseq ${modseq} is older than the log's latest`);
    }
    const seq = this.nextSeq++;
    const previous = this.current.get(key);
    if (previous && previous.latestSeq !== previous.addSeq) this.stale++;
    let addSeq = previous?.addSeq;
    let addedModseq = previous?.addedModseq ?? modseq;
    if (kind === 'add' || !previous) {
      if (addSeq !== undefined) this.stale++;
      addSeq = seq;
      addedModseq = modseq;
    } else if (kind === 'delete' && addSeq !== undefined) {
      this.stale++;
      addSeq = undefined;
    }
    this.current.set(key, { latestSeq: seq, addSeq, modseq, addedModseq, deleted: kind === 'delete' });
    this.slots.push({ seq, modseq, key });
    if (this.stale > 64 && this.stale * 2 > this.slots.length) this.compact();
  }

  /** The key's latest state, tombstones included. */
  get(key: string): Omit<LogEntry, 'modseq'> | undefined {
    const c = this.current.get(key);
    return c && { key, addedModseq: c.addedModseq, latestModseq: c.modseq, deleted: c.deleted };
  }

  /** The modseq of the latest entry, or the log's floor when it is empty. */
  high(): Modseq {
    return this.slots.at(-1)?.modseq ?? this.floor;
  }

  /**
   * The live entries after `since`, in ascending modseq order. A key created after `since` and changed since
   * appears twice (creation and latest write); a key deleted after its creation appears once, as its tombstone.
   */
  *since(since: Modseq): Generator<LogEntry> {
    for (let i = this.firstAfter(since); i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      const c = this.current.get(slot.key);
      if (c && (c.latestSeq === slot.seq || c.addSeq === slot.seq)) {
        yield {
          key: slot.key,
          modseq: slot.modseq,
          addedModseq: c.addedModseq,
          latestModseq: c.modseq,
          deleted: c.deleted,
        };
      }
    }
  }

  private firstAfter(since: Modseq): number {
    let lo = 0;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.slots[mid]!.modseq > since) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private compact(): void {
    this.slots = this.slots.filter((s) => {
      const c = this.current.get(s.key);
      return c !== undefined && (c.latestSeq === s.seq || c.addSeq === s.seq);
    });
    this.stale = 0;
  }
}
