import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { deliverMessage, InvalidMessageError, splitMessage } from '@easkit/eas-commands';
import {
  type EmailData,
  type Folder,
  type FolderId,
  FolderType,
  folderClass,
  type ItemData,
  type MailboxError,
  type MailboxStore,
  NotFoundError,
  ROOT_FOLDER_ID,
  type StoredItem,
  type User,
} from '@easkit/mailbox';
import { calendarKey, readICalendar } from './icalendar.js';
import { type MaildirFlags, maildirFolders, maildirMessages } from './maildir.js';
import { NotMboxError, readMbox } from './mbox.js';
import { factsOfFields, messageFacts, messageKey } from './message.js';
import { findSources, type SourceKind } from './sources.js';
import { readVCards } from './vcard.js';

/** The item classes an import writes. */
export type ImportKind = 'Email' | 'Calendar' | 'Contacts' | 'Tasks';

/**
 * Why something was not imported: `duplicate` (already in the target folder), `invalid` (unreadable or
 * malformed input), `too-large`, `deleted` (marked deleted in its source: Maildir T, Thunderbird's expunged
 * bit, X-Status D), `unsupported` (a format or component the import does not read), `folder` (no folder of the
 * right class could be found or made), `unreadable` (the file could not be read).
 */
export type SkipCode =
  | 'duplicate'
  | 'invalid'
  | 'too-large'
  | 'deleted'
  | 'unsupported'
  | 'folder'
  | 'unreadable';

/**
 * One step of an import, as `onProgress` sees it. `source` names the file, with `#n` for the n-th message of
 * an mbox and the component for calendar and contact entries.
 */
export type ImportEvent =
  | { type: 'imported'; kind: ImportKind; source: string; itemId: string; folderId: FolderId }
  | { type: 'skipped'; kind: ImportKind | 'file'; source: string; code: SkipCode; reason: string }
  | { type: 'warning'; kind: ImportKind; source: string; reason: string };

export type SkippedEvent = Extract<ImportEvent, { type: 'skipped' }>;
export type WarningEvent = Extract<ImportEvent, { type: 'warning' }>;

export interface ImportReport {
  /** Items imported and skipped, per class. */
  counts: Record<ImportKind, { imported: number; skipped: number }>;
  /** Files (a Maildir counts as one) read, and files skipped as a whole. */
  files: { read: number; skipped: number };
  /** The skips, in order, up to `maxReportedEvents`. */
  skipped: SkippedEvent[];
  /** Imported with something left out (a fourth e-mail address, a photo by URL, ...), up to the same limit. */
  warnings: WarningEvent[];
  /** Skips and warnings counted but left out of the lists above. */
  omitted: number;
}

export interface ImportOptions {
  /** The store to write to; writes go through it, so pass the publishing mailbox for Direct Push. */
  readonly mailbox: MailboxStore;
  /** User id, primary address or alias. */
  readonly user: string;
  /** Files and directories: .eml, mbox, Maildir, .ics, .vcf (recognised by extension, else by content). */
  readonly paths: readonly string[];
  /**
   * Target folder by name (`Archive/2024` for a subfolder); created when missing, as a folder of the class of
   * what goes in it. Without it: Inbox for mail, Calendar, Contacts, Tasks.
   */
  readonly folder?: string;
  readonly onProgress?: (event: ImportEvent) => void;
  /** Messages larger than this are skipped; default 32 MiB. */
  readonly maxMessageBytes?: number;
  /** .ics and .vcf files larger than this are skipped; default 64 MiB. */
  readonly maxFileBytes?: number;
  /** Skips and warnings kept in the report's lists; default 1000 (the counts are always complete). */
  readonly maxReportedEvents?: number;
  readonly now?: () => Date;
}

/** The store failed (not the input): the import stopped. `report` holds what was done before. */
export class ImportAbortedError extends Error {
  override readonly name = 'ImportAbortedError';
  constructor(
    readonly report: ImportReport,
    cause: unknown,
  ) {
    super(`import stopped: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

/** The special folder each class goes to by default, and the name it gets when the user has none. */
const DEFAULT_FOLDERS: Record<ImportKind, { type: FolderType; name: string }> = {
  Email: { type: FolderType.Inbox, name: 'Inbox' },
  Calendar: { type: FolderType.Calendar, name: 'Calendar' },
  Contacts: { type: FolderType.Contacts, name: 'Contacts' },
  Tasks: { type: FolderType.Tasks, name: 'Tasks' },
};

/** The type of a folder the import creates for a class. */
const USER_FOLDER_TYPES: Record<ImportKind, FolderType> = {
  Email: FolderType.UserMail,
  Calendar: FolderType.UserCalendar,
  Contacts: FolderType.UserContacts,
  Tasks: FolderType.UserTasks,
};

/** Maildir++ folder names that mean a special folder (compared in lower case). */
const SPECIAL_MAILDIR_NAMES: Record<string, FolderType> = {
  sent: FolderType.SentItems,
  'sent items': FolderType.SentItems,
  'sent messages': FolderType.SentItems,
  'sent mail': FolderType.SentItems,
  drafts: FolderType.Drafts,
  trash: FolderType.DeletedItems,
  'deleted items': FolderType.DeletedItems,
  'deleted messages': FolderType.DeletedItems,
};

/**
 * Imports files into a user's folders and reports what it did. Bad input (a broken message in an mbox, an
 * invalid vCard, a binary file) is skipped and reported, never fatal. A second import of the same files adds
 * nothing: items already in the target folder are skipped as `duplicate` (see the README for what "the same"
 * means per class).
 * @throws NotFoundError `user` for an unknown user; ImportAbortedError when the store fails.
 */
export async function importFiles(options: ImportOptions): Promise<ImportReport> {
  const run = new ImportRun(options, await resolveUser(options.mailbox, options.user));
  try {
    for await (const source of findSources(options.paths)) {
      if ('problem' in source) {
        run.skip('file', source.path, skipCodeOf(source.problem), source.problem);
        continue;
      }
      await run.importSource(source.path, source.kind);
    }
  } catch (error) {
    throw new ImportAbortedError(run.report, error);
  }
  return run.report;
}

function skipCodeOf(problem: string): SkipCode {
  return problem.startsWith('cannot read') ? 'unreadable' : 'unsupported';
}

async function resolveUser(mailbox: MailboxStore, user: string): Promise<User> {
  try {
    return await mailbox.getUser(user);
  } catch (error) {
    if (mailboxErrorCode(error) !== 'NOT_FOUND') throw error;
  }
  const found = await mailbox.resolveAddress(user);
  if (!found) throw new NotFoundError('user', user);
  return found;
}

/** A per-item failure caused by the input or the folder, as opposed to a failing store. */
class ItemSkip extends Error {
  constructor(
    readonly code: SkipCode,
    message: string,
  ) {
    super(message);
  }
}

/** Where an item should go: a folder path from the root, or the default folder of a special type. */
type Target = { path: readonly string[] } | { special: FolderType };

class ImportRun {
  readonly report: ImportReport = {
    counts: {
      Email: { imported: 0, skipped: 0 },
      Calendar: { imported: 0, skipped: 0 },
      Contacts: { imported: 0, skipped: 0 },
      Tasks: { imported: 0, skipped: 0 },
    },
    files: { read: 0, skipped: 0 },
    skipped: [],
    warnings: [],
    omitted: 0,
  };
  private readonly mailbox: MailboxStore;
  private readonly maxMessageBytes: number;
  private readonly maxFileBytes: number;
  private readonly maxReported: number;
  private readonly now: () => Date;
  private readonly folderPath: readonly string[] | undefined;
  private folders: Folder[] | undefined;
  private readonly resolved = new Map<string, Folder | ItemSkip>();
  /** Identity keys of the items in each folder touched so far, loaded on first use. */
  private readonly keys = new Map<FolderId, Set<string>>();

  constructor(
    private readonly options: ImportOptions,
    private readonly user: User,
  ) {
    this.mailbox = options.mailbox;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxReported = options.maxReportedEvents ?? 1000;
    this.now = options.now ?? (() => new Date());
    const parts = options.folder
      ?.split('/')
      .map((part) => part.trim())
      .filter(Boolean);
    this.folderPath = parts?.length ? parts : undefined;
  }

  // --- Reporting -----------------------------------------------------------------------------------------

  private emit(event: ImportEvent): void {
    this.options.onProgress?.(event);
  }

  skip(kind: ImportKind | 'file', source: string, code: SkipCode, reason: string): void {
    if (kind === 'file') this.report.files.skipped++;
    else this.report.counts[kind].skipped++;
    const event: SkippedEvent = { type: 'skipped', kind, source, code, reason };
    if (this.report.skipped.length < this.maxReported) this.report.skipped.push(event);
    else this.report.omitted++;
    this.emit(event);
  }

  private warn(kind: ImportKind, source: string, reason: string): void {
    const event: WarningEvent = { type: 'warning', kind, source, reason };
    if (this.report.warnings.length < this.maxReported) this.report.warnings.push(event);
    else this.report.omitted++;
    this.emit(event);
  }

  private imported(kind: ImportKind, source: string, item: StoredItem): void {
    this.report.counts[kind].imported++;
    this.emit({ type: 'imported', kind, source, itemId: item.id, folderId: item.folderId });
  }

  // --- Sources -------------------------------------------------------------------------------------------

  async importSource(path: string, kind: SourceKind): Promise<void> {
    switch (kind) {
      case 'eml':
        return this.importEml(path);
      case 'mbox':
        return this.importMbox(path);
      case 'maildir':
        return this.importMaildir(path);
      case 'ics':
        return this.importICalendar(path);
      case 'vcf':
        return this.importVCards(path);
    }
  }

  private mailTarget(): Target {
    return this.folderPath ? { path: this.folderPath } : { special: FolderType.Inbox };
  }

  private async importEml(path: string): Promise<void> {
    const mime = await this.readWhole(path, 'Email', this.maxMessageBytes);
    if (!mime) return;
    // Some programs save a single message with its mbox separator line ("From sender date"): read it as the
    // one-message mbox it is.
    if (
      Buffer.from(mime.buffer, mime.byteOffset, Math.min(5, mime.byteLength)).toString('latin1') === 'From '
    ) {
      return this.importMbox(path);
    }
    this.report.files.read++;
    await this.importMessage(path, mime, this.mailTarget(), {});
  }

  private async importMbox(path: string): Promise<void> {
    const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
    let opened = false;
    try {
      for await (const entry of readMbox(stream, { maxMessageBytes: this.maxMessageBytes })) {
        if (!opened) {
          opened = true;
          this.report.files.read++;
        }
        const source = `${path}#${entry.index}`;
        if ('tooLarge' in entry) {
          this.skip(
            'Email',
            source,
            'too-large',
            `${entry.bytes} bytes, over the ${this.maxMessageBytes} allowed`,
          );
          continue;
        }
        await this.importMessage(source, entry.mime, this.mailTarget(), {
          ...(entry.deliveredAt ? { deliveredAt: entry.deliveredAt } : {}),
        });
      }
      if (!opened) this.report.files.read++;
    } catch (error) {
      if (error instanceof NotMboxError)
        this.skip('file', path, 'unsupported', `not an mbox: ${error.message}`);
      else if (isFileError(error)) this.skip('file', path, 'unreadable', `cannot read: ${error.code}`);
      else throw error;
    } finally {
      stream.destroy();
    }
  }

  private async importMaildir(root: string): Promise<void> {
    let folders: Awaited<ReturnType<typeof maildirFolders>>;
    try {
      folders = await maildirFolders(root);
    } catch (error) {
      if (!isFileError(error)) throw error;
      this.skip('file', root, 'unreadable', `cannot read: ${error.code}`);
      return;
    }
    this.report.files.read++;
    for (const folder of folders) {
      const target = this.maildirTarget(folder.path);
      for await (const message of maildirMessages(folder.dir)) {
        const mime = await this.readWhole(message.file, 'Email', this.maxMessageBytes);
        if (!mime) continue;
        await this.importMessage(message.file, mime, target, {
          flags: message.flags,
          isNew: message.isNew,
          ...(message.deliveredAt ? { deliveredAt: message.deliveredAt } : {}),
        });
      }
    }
  }

  /**
   * The folder a Maildir folder goes to. Without `folder`: the root into the Inbox, Sent/Drafts/Trash into
   * the special folders, anything else into a folder of the same path from the top. With `folder`: the root
   * into it and every subfolder below it, so that an archive stays together.
   */
  private maildirTarget(path: readonly string[]): Target {
    if (this.folderPath) return { path: [...this.folderPath, ...path] };
    if (path.length === 0) return { special: FolderType.Inbox };
    const special = path.length === 1 ? SPECIAL_MAILDIR_NAMES[path[0]!.toLowerCase()] : undefined;
    return special ? { special } : { path };
  }

  private async importICalendar(path: string): Promise<void> {
    const bytes = await this.readWhole(path, 'file', this.maxFileBytes);
    if (!bytes) return;
    this.report.files.read++;
    const entries = readICalendar(decodeText(bytes), {
      userAddresses: [this.user.primarySmtpAddress, ...this.user.aliases],
      now: this.now(),
    });
    for (const entry of entries) {
      const source = entry.source ? `${path}#${entry.source}` : path;
      if ('problem' in entry) {
        if (entry.kind === 'file' && !entry.source) this.skip('file', path, 'invalid', entry.problem);
        else if (entry.kind === 'file') this.skip('file', source, 'unsupported', entry.problem);
        else this.skip(entry.kind, source, 'invalid', entry.problem);
        continue;
      }
      const kind = entry.item.class;
      const target: Target = this.folderPath
        ? { path: this.folderPath }
        : { special: DEFAULT_FOLDERS[kind].type };
      const key =
        entry.item.class === 'Calendar' ? calendarKey(entry.item.data) : fingerprint(entry.item.data);
      await this.importItem(kind, source, target, entry.item, key, entry.warnings);
    }
  }

  private async importVCards(path: string): Promise<void> {
    const bytes = await this.readWhole(path, 'file', this.maxFileBytes);
    if (!bytes) return;
    this.report.files.read++;
    for (const entry of readVCards(decodeText(bytes))) {
      const source = entry.source ? `${path}#${entry.source}` : path;
      if ('problem' in entry) {
        if (!entry.source) this.skip('file', path, 'invalid', entry.problem);
        else this.skip('Contacts', source, 'invalid', entry.problem);
        continue;
      }
      const target: Target = this.folderPath ? { path: this.folderPath } : { special: FolderType.Contacts };
      const item: ItemData = { class: 'Contacts', data: entry.data };
      await this.importItem('Contacts', source, target, item, fingerprint(entry.data), entry.warnings);
    }
  }

  /** A whole file, or undefined (and a skip) when it is too large or cannot be read. */
  private async readWhole(
    path: string,
    kind: ImportKind | 'file',
    max: number,
  ): Promise<Uint8Array | undefined> {
    try {
      const info = await stat(path);
      if (info.size > max) {
        this.skip(kind, path, 'too-large', `${info.size} bytes, over the ${max} allowed`);
        return undefined;
      }
      return new Uint8Array(await readFile(path));
    } catch (error) {
      if (!isFileError(error)) throw error;
      this.skip(kind, path, 'unreadable', `cannot read: ${error.code}`);
      return undefined;
    }
  }

  // --- Items ---------------------------------------------------------------------------------------------

  private async importMessage(
    source: string,
    mime: Uint8Array,
    target: Target,
    container: { deliveredAt?: Date; flags?: MaildirFlags; isNew?: boolean },
  ): Promise<void> {
    try {
      if (mime.byteLength > this.maxMessageBytes) {
        throw new ItemSkip('too-large', `${mime.byteLength} bytes, over the ${this.maxMessageBytes} allowed`);
      }
      let facts: ReturnType<typeof messageFacts>;
      try {
        facts = messageFacts(mime);
      } catch (error) {
        throw new ItemSkip('invalid', (error as Error).message);
      }
      const flags = container.flags;
      if (flags?.trashed) throw new ItemSkip('deleted', 'marked for deletion (Maildir flag T)');
      if (facts.deleted) throw new ItemSkip('deleted', 'marked deleted by the mail program that wrote it');
      const folder = await this.folder(target, 'Email');
      const keys = await this.keysOf(folder);
      const key = messageKey(mime, facts);
      if (keys.has(key)) throw new ItemSkip('duplicate', `already in ${folder.displayName}`);

      // State: Maildir flags when the message came from a Maildir; otherwise the status headers mail programs
      // write; a message nothing says anything about counts as read (an import is an archive, not new mail).
      const read = flags ? !container.isNew && flags.seen : (facts.read ?? true);
      const flagged = flags ? flags.flagged : Boolean(facts.flagged);
      const replied = flags ? flags.replied : Boolean(facts.answered);
      const forwarded = flags ? flags.passed : false;
      const received = container.deliveredAt ?? facts.received ?? facts.date ?? this.now();
      const prepare = (data: EmailData): EmailData => {
        const prepared: EmailData = { ...data, read };
        if (flagged) prepared.flag = { status: 2, flagType: 'Follow up' };
        if (replied) prepared.lastVerbExecuted = 1;
        else if (forwarded) prepared.lastVerbExecuted = 3;
        return prepared;
      };
      const item = await deliverMessage(this.mailbox, this.user, mime, {
        now: () => received,
        maxBytes: this.maxMessageBytes,
        hooks: [{ prepare }],
        // The Inbox is deliverMessage's own target; any other folder is filed here.
        ...(folder.type === FolderType.Inbox
          ? {}
          : {
              file: (data: EmailData) =>
                this.mailbox.createItem(this.user.id, folder.id, { class: 'Email', data }),
            }),
      });
      keys.add(key);
      this.imported('Email', source, item);
    } catch (error) {
      this.handleItemError('Email', source, error);
    }
  }

  private async importItem(
    kind: Exclude<ImportKind, 'Email'>,
    source: string,
    target: Target,
    item: ItemData,
    key: string | undefined,
    warnings: readonly string[],
  ): Promise<void> {
    try {
      const folder = await this.folder(target, kind);
      const keys = await this.keysOf(folder);
      if (key !== undefined && keys.has(key))
        throw new ItemSkip('duplicate', `already in ${folder.displayName}`);
      const stored = await this.mailbox.createItem(this.user.id, folder.id, item);
      if (key !== undefined) keys.add(key);
      this.imported(kind, source, stored);
      for (const warning of warnings) this.warn(kind, source, warning);
    } catch (error) {
      this.handleItemError(kind, source, error);
    }
  }

  /** Input and folder problems become skips; anything else is the store failing, and stops the import. */
  private handleItemError(kind: ImportKind, source: string, error: unknown): void {
    if (error instanceof ItemSkip) this.skip(kind, source, error.code, error.message);
    else if (error instanceof InvalidMessageError) this.skip(kind, source, 'invalid', error.message);
    else if (mailboxErrorCode(error) === 'INVALID_ARGUMENT')
      this.skip(kind, source, 'invalid', (error as Error).message);
    else if (mailboxErrorCode(error)) this.skip(kind, source, 'folder', (error as Error).message);
    else throw error;
  }

  // --- Folders -------------------------------------------------------------------------------------------

  private async allFolders(): Promise<Folder[]> {
    this.folders ??= await this.mailbox.listFolders(this.user.id);
    return this.folders;
  }

  /** The folder for a target and class; a failure (wrong class, cannot create) is remembered and rethrown. */
  private async folder(target: Target, kind: ImportKind): Promise<Folder> {
    const cacheKey = `${kind}\u0000${'special' in target ? `#${target.special}` : target.path.join('\u0000')}`;
    let found = this.resolved.get(cacheKey);
    if (!found) {
      try {
        found =
          'special' in target
            ? await this.specialFolder(target.special)
            : await this.folderByPath(target.path, kind);
        const holds = folderClass(found.type);
        if (holds !== kind) {
          found = new ItemSkip('folder', `${found.displayName} holds ${holds ?? 'no'} items, not ${kind}`);
        }
      } catch (error) {
        if (!mailboxErrorCode(error)) throw error;
        found = new ItemSkip('folder', `no folder for ${kind}: ${(error as Error).message}`);
      }
      this.resolved.set(cacheKey, found);
    }
    if (found instanceof ItemSkip) throw found;
    return found;
  }

  private async specialFolder(type: FolderType): Promise<Folder> {
    const existing = (await this.allFolders()).find((folder) => folder.type === type);
    if (existing) return existing;
    const name =
      Object.values(DEFAULT_FOLDERS).find((entry) => entry.type === type)?.name ??
      Object.entries(SPECIAL_MAILDIR_NAMES).find(([, value]) => value === type)?.[0] ??
      'Imported';
    return this.create({ parentId: ROOT_FOLDER_ID, displayName: titleCase(name), type });
  }

  /**
   * A folder by its path of names (compared case-insensitively); missing folders along the path are created
   * as user folders of the item class. At the top, `Inbox` also names the Inbox whatever its display name.
   */
  private async folderByPath(path: readonly string[], kind: ImportKind): Promise<Folder> {
    let parentId = ROOT_FOLDER_ID;
    let current: Folder | undefined;
    for (const [depth, name] of path.entries()) {
      const folders = await this.allFolders();
      const wanted = name.toLowerCase();
      current =
        folders.find(
          (folder) => folder.parentId === parentId && folder.displayName.toLowerCase() === wanted,
        ) ??
        (depth === 0 && wanted === 'inbox'
          ? folders.find((folder) => folder.type === FolderType.Inbox)
          : undefined);
      current ??= await this.create({ parentId, displayName: name, type: USER_FOLDER_TYPES[kind] });
      parentId = current.id;
    }
    if (!current) throw new ItemSkip('folder', 'empty folder name');
    return current;
  }

  private async create(folder: {
    parentId: FolderId;
    displayName: string;
    type: FolderType;
  }): Promise<Folder> {
    const created = await this.mailbox.createFolder(this.user.id, folder);
    (await this.allFolders()).push(created);
    return created;
  }

  /** The identity keys of what a folder already holds, read once (a page of changes at a time). */
  private async keysOf(folder: Folder): Promise<Set<string>> {
    let keys = this.keys.get(folder.id);
    if (keys) return keys;
    keys = new Set();
    let since = 0;
    for (;;) {
      const page = await this.mailbox.changes(this.user.id, folder.id, since, 500);
      for (const change of page.changes) {
        if (change.kind === 'delete') continue;
        const key = itemKey(change.item);
        if (key !== undefined) keys.add(key);
      }
      if (!page.more) break;
      since = page.nextModseq;
    }
    this.keys.set(folder.id, keys);
    return keys;
  }
}

/** The identity key of a stored item, computed as the import computes it for new ones. */
function itemKey(item: StoredItem): string | undefined {
  switch (item.class) {
    case 'Email': {
      try {
        return messageKey(item.data.mime, factsOfFields(splitMessage(item.data.mime).fields));
      } catch {
        return messageKey(item.data.mime, {});
      }
    }
    case 'Calendar':
      return calendarKey(item.data);
    case 'Contacts':
    case 'Tasks':
      return fingerprint(item.data);
    default:
      return undefined;
  }
}

/**
 * A digest of an item's data: the same fields with the same values give the same digest, whatever the key
 * order (dates by instant, bytes by content).
 */
export function fingerprint(data: object): string {
  const canonical = (value: unknown): unknown => {
    if (value instanceof Date) return { $date: value.toISOString() };
    if (value instanceof Uint8Array) return { $bytes: createHash('sha256').update(value).digest('hex') };
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, entry]) => entry !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, entry]) => [key, canonical(entry)]),
      );
    }
    return value;
  };
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(canonical(data)))
    .digest('hex')}`;
}

function decodeText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}

function titleCase(name: string): string {
  return name.replace(/\b\w/g, (letter) => letter.toUpperCase());
}

/**
 * The contract code of a store's error (`NOT_FOUND`, `CONFLICT`, `INVALID_ARGUMENT`), read from `code` as the
 * contract allows, so that a store built against another copy of @easkit/mailbox is understood too.
 */
function mailboxErrorCode(error: unknown): MailboxError['code'] | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'NOT_FOUND' || code === 'CONFLICT' || code === 'INVALID_ARGUMENT' ? code : undefined;
}

/** An error of the file system (ENOENT, EACCES, EISDIR, EIO, ...). */
function isFileError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code);
}
