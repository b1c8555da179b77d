/**
 * The conformance suite must not pass vacuously: each store below breaks one promise of the contract, and the
 * checks that guard that promise must fail against it.
 */
import { describe, expect, it } from 'vitest';
import { type ConformanceCheck, mailboxChecks } from './conformance.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { FolderId, ItemId, Modseq, UserId } from './ids.js';
import { MemoryMailboxStore } from './memory.js';
import type { EmailFlag } from './models/email.js';
import type { ItemData, StoredItem } from './models/item.js';
import type {
  AttachmentContent,
  BodyContent,
  ChangesPage,
  FolderChanges,
  ItemFilter,
  MailboxStore,
  NewFolder,
  PollRequest,
  PollResult,
  ReadBodyOptions,
} from './store.js';

/** A native pollChanges that compares against the user's modseq only: blind to which folder changed. */
class PollsByUserModseq extends MemoryMailboxStore {
  async pollChanges(user: UserId, request: PollRequest): Promise<PollResult> {
    const current = await this.currentModseq(user);
    const folders = request.folders.map(({ sinceModseq }) =>
      current > sinceModseq ? ('changed' as const) : ('unchanged' as const),
    );
    return request.hierarchySince === undefined
      ? { folders }
      : { hierarchyChanged: current > request.hierarchySince, folders };
  }
}

/** A native pollChanges, right in every way but one: a deleted folder is `unchanged`, not `gone`. */
class PollsMissGoneFolders extends MemoryMailboxStore {
  async pollChanges(user: UserId, request: PollRequest): Promise<PollResult> {
    const folders = await Promise.all(
      request.folders.map(async ({ folderId, sinceModseq }) => {
        const page = await this.changes(user, folderId, sinceModseq, 1).catch(() => undefined);
        return page && page.changes.length > 0 ? ('changed' as const) : ('unchanged' as const);
      }),
    );
    if (request.hierarchySince === undefined) return { folders };
    const { added, changed, deleted } = await this.folderChanges(user, request.hierarchySince);
    return { hierarchyChanged: added.length + changed.length + deleted.length > 0, folders };
  }
}

/** getItem hands out the same object every time, so callers can mutate the store's copy. */
class LeakyReads extends MemoryMailboxStore {
  private readonly cache = new Map<string, StoredItem>();
  override async getItem(user: UserId, id: ItemId): Promise<StoredItem> {
    const cached = this.cache.get(id);
    if (cached && cached.modseq === (await super.getItem(user, id)).modseq) return cached;
    const fresh = await super.getItem(user, id);
    this.cache.set(id, fresh);
    return fresh;
  }
}

/** Forgets deletes in `changes`. */
class NoTombstones extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, since: Modseq, limit: number): Promise<ChangesPage> {
    const page = await super.changes(u, f, since, limit);
    return { ...page, changes: page.changes.filter((c) => c.kind !== 'delete') };
  }
}

/** Returns each page newest first. */
class ReversedChanges extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, since: Modseq, limit: number): Promise<ChangesPage> {
    const page = await super.changes(u, f, since, limit);
    return { ...page, changes: [...page.changes].reverse() };
  }
}

/** Reports every add as a change. */
class AddsAsChanges extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, since: Modseq, limit: number): Promise<ChangesPage> {
    const page = await super.changes(u, f, since, limit);
    return { ...page, changes: page.changes.map((c) => (c.kind === 'add' ? { ...c, kind: 'change' } : c)) };
  }
}

/** Moves the cursor one past the last change of a full page, skipping whatever sits there. */
class SkippingCursor extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, since: Modseq, limit: number): Promise<ChangesPage> {
    const page = await super.changes(u, f, since, limit);
    return page.more ? { ...page, nextModseq: page.nextModseq + 1 } : page;
  }
}

/** Loses adds of items that were edited before they were reported (a store that reports adds only at the latest write, badly). */
class DropsEditedAdds extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, since: Modseq, limit: number): Promise<ChangesPage> {
    const page = await super.changes(u, f, since, limit);
    return { ...page, changes: page.changes.filter((c) => c.kind !== 'add' || c.item.modseq === c.modseq) };
  }
}

/** Finds items of any user. */
class LeakyUsers extends MemoryMailboxStore {
  private readonly owners = new Map<ItemId, UserId>();
  override async createItem(user: UserId, folder: FolderId, item: ItemData): Promise<StoredItem> {
    const created = await super.createItem(user, folder, item);
    this.owners.set(created.id, user);
    return created;
  }
  override async getItem(user: UserId, id: ItemId): Promise<StoredItem> {
    try {
      return await super.getItem(user, id);
    } catch (error) {
      const owner = this.owners.get(id);
      if (error instanceof NotFoundError && owner !== undefined) return super.getItem(owner, id);
      throw error;
    }
  }
}

/** Marks messages read by rewriting their MIME. */
class MimeRewriter extends MemoryMailboxStore {
  override async setReadState(user: UserId, id: ItemId, read: boolean): Promise<StoredItem> {
    const item = await super.getItem(user, id);
    if (item.class !== 'Email') return super.setReadState(user, id, read);
    const header = new TextEncoder().encode(`X-Read: ${read}\r\n`);
    const mime = new Uint8Array([...header, ...item.data.mime]);
    return this.updateItem(user, id, { class: 'Email', data: { read, mime } });
  }
}

/** Reports a modseq one ahead of the truth. */
class ModseqDrift extends MemoryMailboxStore {
  override async currentModseq(user: UserId): Promise<Modseq> {
    return (await super.currentModseq(user)) + 1;
  }
}

/** Truncates by characters instead of bytes. */
class CharacterTruncation extends MemoryMailboxStore {
  override async readBody(user: UserId, id: ItemId, options: ReadBodyOptions): Promise<BodyContent> {
    const { truncateBytes, ...rest } = options;
    const full = await super.readBody(user, id, rest);
    if (truncateBytes === undefined || full.type === 'mime') return super.readBody(user, id, options);
    return { ...full, data: full.data.slice(0, truncateBytes), truncated: full.data.length > truncateBytes };
  }
}

/** Never reports deleted folders. */
class ForgetsFolderDeletes extends MemoryMailboxStore {
  override async folderChanges(user: UserId, since: Modseq): Promise<FolderChanges> {
    return { ...(await super.folderChanges(user, since)), deleted: [] };
  }
}

/** Copies instead of moving. */
class CopyingMove extends MemoryMailboxStore {
  override async moveItem(user: UserId, id: ItemId, destination: FolderId): Promise<StoredItem> {
    const item = await super.getItem(user, id);
    if (item.folderId === destination) return super.moveItem(user, id, destination);
    return this.createItem(user, destination, { class: item.class, data: item.data } as ItemData);
  }
}

/** Ignores the filter of countItems. */
class UnfilteredCount extends MemoryMailboxStore {
  override async countItems(user: UserId, folder: FolderId, _filter?: ItemFilter): Promise<number> {
    return super.countItems(user, folder);
  }
}

/** Returns attachments without their bytes. */
class EmptyAttachments extends MemoryMailboxStore {
  override async readAttachment(user: UserId, reference: string): Promise<AttachmentContent> {
    return { ...(await super.readAttachment(user, reference)), data: new Uint8Array() };
  }
}

/** Answers every `changes` call with the whole folder. */
class IgnoresCursor extends MemoryMailboxStore {
  override async changes(u: UserId, f: FolderId, _since: Modseq, limit: number): Promise<ChangesPage> {
    return super.changes(u, f, 0, limit);
  }
}

/** Resolves folder name clashes by renaming instead of failing. */
class RenamesOnConflict extends MemoryMailboxStore {
  override async createFolder(user: UserId, folder: NewFolder) {
    try {
      return await super.createFolder(user, folder);
    } catch (error) {
      if (!(error instanceof ConflictError) || error.reason !== 'folder-name-taken') throw error;
      return super.createFolder(user, { ...folder, displayName: `${folder.displayName} (2)` });
    }
  }
}

/** Clearing a flag leaves it set (and marks the message unread instead). */
class SetFlagIgnoresClear extends MemoryMailboxStore {
  override async setFlag(user: UserId, id: ItemId, flag: EmailFlag | undefined): Promise<StoredItem> {
    return flag === undefined ? super.setReadState(user, id, false) : super.setFlag(user, id, flag);
  }
}

const broken: Array<{ name: string; create: () => MailboxStore; failing: string[] }> = [
  {
    name: 'LeakyReads',
    create: () => new LeakyReads(),
    failing: ['items: the store copies data in and out'],
  },
  {
    name: 'NoTombstones',
    create: () => new NoTombstones(),
    failing: ['items: deleteItem removes', 'items: moveItem gives', 'changes: add, change and delete'],
  },
  {
    name: 'ReversedChanges',
    create: () => new ReversedChanges(),
    failing: [
      'changes: add, change and delete',
      'changes: pages of `limit`',
      'changes: paging under interleaved',
    ],
  },
  {
    name: 'AddsAsChanges',
    create: () => new AddsAsChanges(),
    failing: [
      'changes: add, change and delete',
      'changes: paging under interleaved',
      'items: moveItem gives',
    ],
  },
  { name: 'SkippingCursor', create: () => new SkippingCursor(), failing: ['changes: pages of `limit`'] },
  {
    name: 'DropsEditedAdds',
    create: () => new DropsEditedAdds(),
    failing: ['changes: add, change and delete', 'changes: paging under interleaved'],
  },
  { name: 'LeakyUsers', create: () => new LeakyUsers(), failing: ['isolation:'] },
  { name: 'MimeRewriter', create: () => new MimeRewriter(), failing: ['items: setReadState and setFlag'] },
  {
    name: 'ModseqDrift',
    create: () => new ModseqDrift(),
    failing: ['modseq: starts at 0', 'modseq: concurrent mutations', 'folderChanges:'],
  },
  { name: 'CharacterTruncation', create: () => new CharacterTruncation(), failing: ['bodies: truncation'] },
  { name: 'ForgetsFolderDeletes', create: () => new ForgetsFolderDeletes(), failing: ['folderChanges:'] },
  { name: 'CopyingMove', create: () => new CopyingMove(), failing: ['items: moveItem gives'] },
  { name: 'UnfilteredCount', create: () => new UnfilteredCount(), failing: ['countItems:'] },
  { name: 'EmptyAttachments', create: () => new EmptyAttachments(), failing: ['attachments:'] },
  { name: 'IgnoresCursor', create: () => new IgnoresCursor(), failing: ['changes: a 10,000-item folder'] },
  { name: 'PollsByUserModseq', create: () => new PollsByUserModseq(), failing: ['pollChanges:'] },
  { name: 'PollsMissGoneFolders', create: () => new PollsMissGoneFolders(), failing: ['pollChanges:'] },
  {
    name: 'RenamesOnConflict',
    create: () => new RenamesOnConflict(),
    failing: ['folders: names are unique'],
  },
  {
    name: 'SetFlagIgnoresClear',
    create: () => new SetFlagIgnoresClear(),
    failing: ['items: setReadState and setFlag'],
  },
];

function check(prefix: string): ConformanceCheck {
  const matching = mailboxChecks.filter((c) => c.name.startsWith(prefix));
  expect(matching, `exactly one check starts with "${prefix}"`).toHaveLength(1);
  return matching[0]!;
}

describe('the mailbox conformance suite catches broken stores', () => {
  for (const b of broken) {
    for (const prefix of b.failing) {
      it(`${b.name} fails "${prefix}"`, async () => {
        await expect(check(prefix).run({ store: b.create() })).rejects.toThrow();
      });
    }
  }

  it('the same checks pass against the correct store', async () => {
    const prefixes = new Set(broken.flatMap((b) => b.failing));
    for (const prefix of prefixes) await check(prefix).run({ store: new MemoryMailboxStore() });
  });

  it('check names are unique', () => {
    expect(new Set(mailboxChecks.map((c) => c.name)).size).toBe(mailboxChecks.length);
  });
});
