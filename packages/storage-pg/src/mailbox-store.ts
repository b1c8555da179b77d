import {
  type AttachmentContent,
  type BodyContent,
  type ChangesPage,
  ConflictError,
  type EmailFlag,
  type Folder,
  type FolderChanges,
  type FolderId,
  type FolderUpdate,
  folderClass,
  htmlToText,
  InvalidArgumentError,
  ITEM_CLASSES,
  type ItemChange,
  type ItemClass,
  type ItemData,
  type ItemFilter,
  type ItemId,
  type ItemPatch,
  isFolderType,
  isSpecialFolderType,
  type MailboxStore,
  type MissingEntity,
  type Modseq,
  type NewFolder,
  type NewUser,
  NotFoundError,
  type PollRequest,
  type PollResult,
  type ReadBodyOptions,
  ROOT_FOLDER_ID,
  type StoredItem,
  textToHtml,
  truncateUtf8,
  type UpdateOptions,
  type User,
  type UserId,
  type UserUpdate,
  validateItem,
} from '@easkit/mailbox';
import type { Database, SqlExecutor } from './database.js';
import { deriveEmailContent, readAttachmentPart } from './email-content.js';
import { pollMailboxChanges } from './mailbox-poll.js';
import {
  checkModseq,
  columnValues,
  decodeJson,
  type EmailBodies,
  encodeJson,
  type FolderRow,
  folderFromRow,
  folderId,
  folderKey,
  ITEM_COLUMNS,
  type ItemRow,
  isStorableText,
  itemColumns,
  itemFromRow,
  itemKey,
  type Json,
  malformed,
  parseFileReference,
  plainBytes,
  type UserRow,
  userFromRow,
} from './mailbox-rows.js';

export interface PgMailboxStoreOptions {
  /** The database (PostgreSQL or PGlite), migrated with `migrate(database)` before the store is used. */
  database: Database;
}

/** Creates a {@link PgMailboxStore}. */
export function createPgMailboxStore(options: PgMailboxStoreOptions): PgMailboxStore {
  return new PgMailboxStore(options);
}

/** Every folder type an item class may go into: its own types, and those that restrict nothing. */
const FOLDER_TYPES_FOR: Record<ItemClass, number[]> = Object.fromEntries(
  ITEM_CLASSES.map((itemClass) => [
    itemClass,
    Array.from({ length: 19 }, (_, i) => i + 1).filter((type) => {
      const holds = isFolderType(type) ? folderClass(type) : undefined;
      return holds === undefined || holds === itemClass;
    }),
  ]),
) as Record<ItemClass, number[]>;

const T = {
  users: 'easkit_mailbox_users',
  addresses: 'easkit_mailbox_addresses',
  folders: 'easkit_mailbox_folders',
  folderTombstones: 'easkit_mailbox_folder_tombstones',
  items: 'easkit_mailbox_items',
  itemTombstones: 'easkit_mailbox_item_tombstones',
  ids: 'easkit_mailbox_ids',
} as const;

/** The columns that make a StoredItem, without the MIME. */
const ITEM_SELECT = 'id::text AS id, folder_id::text AS folder_id, class, modseq, data';

/** The most changes one `changes` call returns (EAS asks for 512 at most). */
const MAX_PAGE = 10_000;

/** Thrown inside a transaction to roll it back and run the call again (someone wrote in between). */
class Retry extends Error {}

/**
 * The `MailboxStore` on PostgreSQL or PGlite (the same SQL on both).
 *
 * Each mutation takes the user's next modseq with `UPDATE easkit_mailbox_users ... RETURNING modseq` and makes
 * its change in the same transaction (createItem: in the same statement). The row lock that update holds
 * serializes one user's writes, so checks made after it see the latest state and modseqs commit in order; a
 * failed call rolls back and takes no modseq. Every query is parameterized. See the package README for the
 * schema and for how values PostgreSQL text cannot hold are stored.
 */
export class PgMailboxStore implements MailboxStore {
  private readonly db: Database;
  /**
   * On PGlite, bytea values travel as base64 text (`encode`/`decode` in SQL): its own bytea conversion takes
   * seconds for a 25 MB message. On PostgreSQL, `pg` sends Buffers as binary parameters and parses bytea fast.
   */
  private readonly base64: boolean;
  /** The columns of a whole StoredItem, MIME included. */
  private readonly itemSelectMime: string;

  constructor(options: PgMailboxStoreOptions) {
    this.db = options.database;
    this.base64 = this.db.dialect === 'pglite';
    this.itemSelectMime = `${ITEM_SELECT}, ${this.bytesOut('mime', 'mime')}`;
  }

  // Users ---------------------------------------------------------------------------------------------------

  async createUser(input: NewUser): Promise<User> {
    const user: User = {
      id: input.id,
      primarySmtpAddress: input.primarySmtpAddress,
      aliases: [...(input.aliases ?? [])],
    };
    if (input.displayName !== undefined) user.displayName = input.displayName;
    if (typeof user.id !== 'string' || user.id === '') throw malformed('user id must be a non-empty string');
    const all = [user.primarySmtpAddress, ...user.aliases];
    for (const a of all) {
      if (typeof a !== 'string' || !a.includes('@')) throw malformed(`not an address: ${String(a)}`);
    }
    for (const text of [user.id, ...all, ...(user.displayName === undefined ? [] : [user.displayName])]) {
      if (!isStorableText(text))
        throw malformed('user ids, addresses and names cannot hold NUL or lone surrogates');
    }
    const keys = [...new Set(all.map((a) => a.toLowerCase()))];
    try {
      await this.db.query(
        `WITH u AS (
           INSERT INTO ${T.users} (id, primary_address, aliases, display_name) VALUES ($1, $2, $3, $4) RETURNING id
         )
         INSERT INTO ${T.addresses} (address_key, user_id) SELECT k, u.id FROM u, unnest($5::text[]) AS k`,
        [user.id, user.primarySmtpAddress, user.aliases, user.displayName ?? null, keys],
      );
    } catch (error) {
      const e = error as { code?: string; constraint?: string };
      if (e.code === '23505' && e.constraint === `${T.users}_pkey`) {
        throw new ConflictError('user-exists', `user already exists: ${user.id}`);
      }
      if (e.code === '23505') throw new ConflictError('address-taken', 'an address is already in use');
      throw translate(error);
    }
    return user;
  }

  async updateUser(userId: UserId, update: UserUpdate): Promise<User> {
    const aliases = update.aliases === undefined ? undefined : [...update.aliases];
    for (const a of aliases ?? []) {
      if (typeof a !== 'string' || !a.includes('@')) throw malformed(`not an address: ${String(a)}`);
    }
    for (const text of [
      ...(aliases ?? []),
      ...(typeof update.displayName === 'string' ? [update.displayName] : []),
    ]) {
      if (!isStorableText(text)) throw malformed('addresses and names cannot hold NUL or lone surrogates');
    }
    if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
    try {
      return await this.db.transaction(async (tx) => {
        const current = (
          await tx.query<UserRow>(
            `SELECT id, primary_address, aliases, display_name FROM ${T.users} WHERE id = $1 FOR UPDATE`,
            [userId],
          )
        ).rows[0];
        if (!current) throw new NotFoundError('user', String(userId));
        const user = userFromRow(current);
        if (aliases !== undefined) {
          const keys = [...new Set([user.primarySmtpAddress, ...aliases].map((a) => a.toLowerCase()))];
          await tx.query(
            `DELETE FROM ${T.addresses} WHERE user_id = $1 AND NOT (address_key = ANY($2::text[]))`,
            [userId, keys],
          );
          await tx.query(
            `INSERT INTO ${T.addresses} (address_key, user_id) SELECT k, $1 FROM unnest($2::text[]) AS k
             ON CONFLICT (address_key) DO NOTHING`,
            [userId, keys],
          );
          const owned = await tx.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${T.addresses} WHERE user_id = $1 AND address_key = ANY($2::text[])`,
            [userId, keys],
          );
          if ((owned.rows[0]?.n ?? 0) !== keys.length) {
            throw new ConflictError('address-taken', 'an address is already in use');
          }
          user.aliases = aliases;
        }
        if (update.displayName === null) delete user.displayName;
        else if (update.displayName !== undefined) user.displayName = update.displayName;
        await tx.query(`UPDATE ${T.users} SET aliases = $2, display_name = $3 WHERE id = $1`, [
          userId,
          user.aliases,
          user.displayName ?? null,
        ]);
        return user;
      });
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof ConflictError) throw error;
      throw translate(error);
    }
  }

  async getUser(userId: UserId): Promise<User> {
    const row = isStorableText(userId)
      ? (
          await this.db.query<UserRow>(
            `SELECT id, primary_address, aliases, display_name FROM ${T.users} WHERE id = $1`,
            [userId],
          )
        ).rows[0]
      : undefined;
    if (!row) throw new NotFoundError('user', String(userId));
    return userFromRow(row);
  }

  /** Every user, sorted by id: the GAL source (`UserDirectory` of @easkit/mailbox) and the admin API use it. */
  async listUsers(): Promise<User[]> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT id, primary_address, aliases, display_name FROM ${T.users} ORDER BY id`,
    );
    return rows.map(userFromRow);
  }

  async resolveAddress(address: string): Promise<User | undefined> {
    if (!isStorableText(address)) return undefined;
    const { rows } = await this.db.query<UserRow>(
      `SELECT u.id, u.primary_address, u.aliases, u.display_name
         FROM ${T.addresses} a JOIN ${T.users} u ON u.id = a.user_id
        WHERE a.address_key = $1`,
      [address.toLowerCase()],
    );
    return rows[0] ? userFromRow(rows[0]) : undefined;
  }

  async currentModseq(userId: UserId): Promise<Modseq> {
    const row = isStorableText(userId)
      ? (await this.db.query<{ modseq: string }>(`SELECT modseq FROM ${T.users} WHERE id = $1`, [userId]))
          .rows[0]
      : undefined;
    if (!row) throw new NotFoundError('user', String(userId));
    return Number(row.modseq);
  }

  // Folders -------------------------------------------------------------------------------------------------

  async createFolder(userId: UserId, input: NewFolder): Promise<Folder> {
    const displayName = checkName(input.displayName);
    if (!isFolderType(input.type)) throw malformed(`not an EAS folder type: ${String(input.type)}`);
    return this.mutate(userId, async (tx, modseq) => {
      const parent = input.parentId === ROOT_FOLDER_ID ? null : folderKey(input.parentId);
      if (parent === undefined) throw new NotFoundError('folder', String(input.parentId));
      const { rows } = await tx.query<{ parent_found: boolean; name_taken: boolean; type_taken: boolean }>(
        `SELECT ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM ${T.folders} WHERE user_id = $1 AND id = $2)) AS parent_found,
                EXISTS (SELECT 1 FROM ${T.folders}
                         WHERE user_id = $1 AND parent_id IS NOT DISTINCT FROM $2::bigint AND name_key = $3) AS name_taken,
                EXISTS (SELECT 1 FROM ${T.folders} WHERE user_id = $1 AND type = $4) AS type_taken`,
        [userId, parent, displayName.toLowerCase(), input.type],
      );
      const check = rows[0]!;
      if (!check.parent_found) throw new NotFoundError('folder', input.parentId);
      if (check.name_taken) {
        throw new ConflictError('folder-name-taken', `a folder named "${displayName}" already exists there`);
      }
      if (isSpecialFolderType(input.type) && check.type_taken) {
        throw new ConflictError(
          'special-folder-exists',
          `the user already has a folder of type ${input.type}`,
        );
      }
      const inserted = await tx.query<{ id: string }>(
        `INSERT INTO ${T.folders} (user_id, id, parent_id, display_name, name_key, type, created_modseq, modseq)
         VALUES ($1, nextval('${T.ids}'), $2, $3, $4, $5, $6, $6) RETURNING id::text AS id`,
        [userId, parent, displayName, displayName.toLowerCase(), input.type, modseq],
      );
      return { id: folderId(inserted.rows[0]!.id), parentId: input.parentId, displayName, type: input.type };
    });
  }

  async getFolder(userId: UserId, id: FolderId): Promise<Folder> {
    const key = folderKey(id);
    const row =
      key === undefined || !isStorableText(userId)
        ? undefined
        : (
            await this.db.query<FolderRow>(
              `SELECT id::text AS id, parent_id::text AS parent_id, display_name, type
                 FROM ${T.folders} WHERE user_id = $1 AND id = $2`,
              [userId, key],
            )
          ).rows[0];
    if (!row) return this.missing(userId, 'folder', id);
    return folderFromRow(row);
  }

  async listFolders(userId: UserId): Promise<Folder[]> {
    const folders = await this.allFolders(this.db, userId);
    if (folders.length === 0) await this.getUser(userId);
    return parentsFirst(folders.map(folderFromRow));
  }

  async updateFolder(userId: UserId, id: FolderId, update: FolderUpdate): Promise<Folder> {
    return this.mutate(userId, async (tx, modseq) => {
      const folders = new Map((await this.allFolders(tx, userId)).map((row) => [folderId(row.id), row]));
      const folder = folders.get(id);
      if (!folder) throw new NotFoundError('folder', String(id));
      if (isSpecialFolderType(Number(folder.type) as never)) {
        throw new InvalidArgumentError('special-folder', `folder ${id} is a default folder`);
      }
      const displayName =
        update.displayName === undefined ? folder.display_name : checkName(update.displayName);
      const parentId =
        update.parentId ?? (folder.parent_id === null ? ROOT_FOLDER_ID : folderId(folder.parent_id));
      if (parentId !== ROOT_FOLDER_ID && !folders.has(parentId)) throw new NotFoundError('folder', parentId);
      for (let p = parentId; p !== ROOT_FOLDER_ID; ) {
        if (p === id) throw new InvalidArgumentError('folder-cycle', 'a folder cannot move below itself');
        const parentRow = folders.get(p)!;
        p = parentRow.parent_id === null ? ROOT_FOLDER_ID : folderId(parentRow.parent_id);
      }
      const nameKey = displayName.toLowerCase();
      for (const [otherId, other] of folders) {
        const otherParent = other.parent_id === null ? ROOT_FOLDER_ID : folderId(other.parent_id);
        if (otherId !== id && otherParent === parentId && other.display_name.toLowerCase() === nameKey) {
          throw new ConflictError(
            'folder-name-taken',
            `a folder named "${displayName}" already exists there`,
          );
        }
      }
      await tx.query(
        `UPDATE ${T.folders} SET display_name = $3, name_key = $4, parent_id = $5, modseq = $6
          WHERE user_id = $1 AND id = $2`,
        [
          userId,
          folder.id,
          displayName,
          nameKey,
          parentId === ROOT_FOLDER_ID ? null : folderKey(parentId),
          modseq,
        ],
      );
      return { id, parentId, displayName, type: Number(folder.type) as Folder['type'] };
    });
  }

  async deleteFolder(userId: UserId, id: FolderId): Promise<{ modseq: Modseq }> {
    return this.mutate(userId, async (tx, modseq) => {
      const rows = await this.allFolders(tx, userId);
      const folder = rows.find((row) => folderId(row.id) === id);
      if (!folder) throw new NotFoundError('folder', String(id));
      if (isSpecialFolderType(Number(folder.type) as never)) {
        throw new InvalidArgumentError('special-folder', `folder ${id} is a default folder`);
      }
      const doomed = new Set([folder.id]);
      // Folders are few; a fixed-point pass over them finds every descendant.
      for (let grew = true; grew; ) {
        grew = false;
        for (const row of rows) {
          if (!doomed.has(row.id) && row.parent_id !== null && doomed.has(row.parent_id)) {
            doomed.add(row.id);
            grew = true;
          }
        }
      }
      // Items and their tombstones go with their folders (ON DELETE CASCADE).
      await tx.query(
        `WITH gone AS (
           DELETE FROM ${T.folders} WHERE user_id = $1 AND id = ANY($2::bigint[]) RETURNING id, created_modseq
         )
         INSERT INTO ${T.folderTombstones} (user_id, folder_id, created_modseq, modseq)
         SELECT $1, id, created_modseq, $3 FROM gone`,
        [userId, [...doomed], modseq],
      );
      return { modseq };
    });
  }

  async folderChanges(userId: UserId, sinceModseq: Modseq): Promise<FolderChanges> {
    checkModseq(sinceModseq);
    if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
    // One statement, so the folders, the tombstones and the returned modseq come from one snapshot. Only
    // folders written after sinceModseq come back (usually none), each with its depth in the tree, counted
    // up its real ancestors, so that new folders can be sent parents first.
    const { rows } = await this.db.query<
      FolderRow & { kind: 'live' | 'gone' | 'user'; created_modseq: string; modseq: string; depth: string }
    >(
      `WITH RECURSIVE
         written AS (
           SELECT id, parent_id, display_name, type, created_modseq, modseq
             FROM ${T.folders} WHERE user_id = $1 AND modseq > $2
         ),
         up (id, ancestor) AS (
           SELECT id, parent_id FROM written WHERE parent_id IS NOT NULL
           UNION ALL
           SELECT up.id, p.parent_id FROM up JOIN ${T.folders} p ON p.user_id = $1 AND p.id = up.ancestor
            WHERE p.parent_id IS NOT NULL
         )
       SELECT 'live' AS kind, w.id::text AS id, w.parent_id::text AS parent_id, w.display_name, w.type,
              w.created_modseq, w.modseq, (SELECT count(*) FROM up WHERE up.id = w.id) AS depth
         FROM written w
       UNION ALL
       SELECT 'gone', folder_id::text, NULL, NULL, NULL, created_modseq, modseq, NULL
         FROM ${T.folderTombstones} WHERE user_id = $1 AND modseq > $2 AND created_modseq <= $2
       UNION ALL
       SELECT 'user', NULL, NULL, NULL, NULL, NULL, modseq, NULL FROM ${T.users} WHERE id = $1`,
      [userId, sinceModseq],
    );
    const userRow = rows.find((row) => row.kind === 'user');
    if (!userRow) throw new NotFoundError('user', userId);
    const live = rows.filter((row) => row.kind === 'live');
    const byModseq = (a: { modseq: string }, b: { modseq: string }) => Number(a.modseq) - Number(b.modseq);
    return {
      // Parents first (a parent is nearer the root); folders at one depth in the order they were created.
      added: live
        .filter((row) => Number(row.created_modseq) > sinceModseq)
        .sort(
          (a, b) => Number(a.depth) - Number(b.depth) || Number(a.created_modseq) - Number(b.created_modseq),
        )
        .map(folderFromRow),
      changed: live
        .filter((row) => Number(row.created_modseq) <= sinceModseq)
        .sort(byModseq)
        .map(folderFromRow),
      deleted: rows
        .filter((row) => row.kind === 'gone')
        .sort(byModseq)
        .map((row) => folderId(row.id)),
      modseq: Number(userRow.modseq),
    };
  }

  /** One statement for the hierarchy and every folder: see `pollMailboxChanges`. */
  pollChanges(userId: UserId, request: PollRequest): Promise<PollResult> {
    return pollMailboxChanges(this.db, userId, request);
  }

  // Items ---------------------------------------------------------------------------------------------------

  async createItem(userId: UserId, id: FolderId, input: ItemData): Promise<StoredItem> {
    const item = structuredClone(input);
    validateItem(item);
    const key = folderKey(id);
    if (key === undefined || !isStorableText(userId)) return this.missing(userId, 'folder', id);
    const data = item.data as unknown as Record<string, unknown>;
    let mime: Uint8Array | null = null;
    let content: Awaited<ReturnType<typeof deriveEmailContent>> | undefined;
    if (item.class === 'Email') {
      mime = item.data.mime;
      content = await deriveEmailContent(mime);
      delete data.mime;
      data.attachments = content.attachments;
    }
    const columns = itemColumns(item.class, data);
    const values = [
      userId,
      key,
      FOLDER_TYPES_FOR[item.class],
      item.class,
      ...columnValues(columns),
      ...this.contentValues(mime, content),
    ];
    // One statement: take the modseq only if the folder exists and fits the class, then insert. If the folder
    // is deleted while this statement waits for the user's row lock, the foreign key check fails and the whole
    // statement (modseq included) is undone.
    let inserted: { id: string; modseq: string } | undefined;
    try {
      ({
        rows: [inserted],
      } = await this.db.query<{ id: string; modseq: string }>(
        `WITH u AS (
           UPDATE ${T.users} SET modseq = modseq + 1
            WHERE id = $1 AND EXISTS (
              SELECT 1 FROM ${T.folders} WHERE user_id = $1 AND id = $2 AND type = ANY($3::smallint[]))
           RETURNING modseq
         )
         INSERT INTO ${T.items} (user_id, id, folder_id, class, added_modseq, modseq, ${ITEM_COLUMNS.join(', ')},
                                 mime, body_plain, body_html, body_native)
         SELECT $1, nextval('${T.ids}'), $2, $4, u.modseq, u.modseq, ${columnParams(5)},
                ${this.bytesIn(13)}, ${this.bytesIn(14)}, ${this.bytesIn(15)}, $16 FROM u
         RETURNING id::text AS id, modseq`,
        values,
      ));
    } catch (error) {
      if ((error as { code?: string }).code === '23503') return this.missing(userId, 'folder', id);
      throw translate(error);
    }
    if (!inserted) {
      const folder = await this.getFolder(userId, id);
      const holds = folderClass(folder.type);
      throw new InvalidArgumentError(
        'class-mismatch',
        `folder ${id} holds ${holds} items, not ${item.class}`,
      );
    }
    return itemFromRow({
      id: inserted.id,
      folder_id: key,
      class: item.class,
      modseq: inserted.modseq,
      data: JSON.parse(columns.data) as Json,
      mime,
    });
  }

  async getItem(userId: UserId, id: ItemId): Promise<StoredItem> {
    const key = itemKey(id);
    const row =
      key === undefined || !isStorableText(userId)
        ? undefined
        : (
            await this.db.query<ItemRow>(
              `SELECT ${this.itemSelectMime} FROM ${T.items} WHERE user_id = $1 AND id = $2`,
              [userId, key],
            )
          ).rows[0];
    if (!row) return this.missing(userId, 'item', id);
    return itemFromRow(row);
  }

  async updateItem(
    userId: UserId,
    id: ItemId,
    patch: ItemPatch,
    options: UpdateOptions = {},
  ): Promise<StoredItem> {
    const key = itemKey(id);
    for (;;) {
      // Read, merge and (for a new MIME) parse outside the transaction; write only if nobody wrote meanwhile.
      const current =
        key === undefined || !isStorableText(userId)
          ? undefined
          : (
              await this.db.query<ItemRow>(
                `SELECT ${ITEM_SELECT} FROM ${T.items} WHERE user_id = $1 AND id = $2`,
                [userId, key],
              )
            ).rows[0];
      if (!current) return this.missing(userId, 'item', id);
      if (patch.class !== current.class) {
        throw new InvalidArgumentError(
          'class-mismatch',
          `item ${id} is ${current.class}, not ${patch.class}`,
        );
      }
      const changes = structuredClone(patch.data) as Record<string, unknown>;
      const isEmail = current.class === 'Email';
      const mimeGiven = isEmail && 'mime' in changes;
      const newMime = mimeGiven ? changes.mime : undefined;
      delete changes.mime;
      const data = deepMerge(decodeJson(current.data) as Record<string, unknown>, changes);
      // The stored MIME is not read for the check: only whether the merged item still has one.
      validateItem({
        class: current.class,
        data: isEmail ? { ...data, mime: mimeGiven ? newMime : new Uint8Array(0) } : data,
      } as ItemData);
      let mime: Uint8Array | null = null;
      let content: Awaited<ReturnType<typeof deriveEmailContent>> | undefined;
      if (isEmail) {
        if (mimeGiven) {
          mime = newMime as Uint8Array;
          content = await deriveEmailContent(mime);
          data.attachments = content.attachments;
        } else {
          const stored = (decodeJson(current.data) as { attachments?: unknown }).attachments;
          if (stored === undefined) delete data.attachments;
          else data.attachments = stored;
        }
      }
      const read = Number(current.modseq);
      if (options.expectedModseq !== undefined && read !== options.expectedModseq) {
        throw new ConflictError('modseq-mismatch', `item ${id} changed at modseq ${read}`);
      }
      const columns = itemColumns(current.class, data);
      try {
        return await this.mutate(userId, async (tx, modseq) => {
          const params = [userId, key, read, modseq, ...columnValues(columns)];
          const mimeSet = mime
            ? `, mime = ${this.bytesIn(13)}, body_plain = ${this.bytesIn(14)}, body_html = ${this.bytesIn(15)},
               body_native = $16`
            : '';
          if (mime) params.push(...this.contentValues(mime, content));
          const { rows } = await tx.query<ItemRow>(
            `UPDATE ${T.items} SET modseq = $4, ${assignColumns(5)}${mimeSet}
              WHERE user_id = $1 AND id = $2 AND modseq = $3
             RETURNING ${this.itemSelectMime}`,
            params,
          );
          if (!rows[0]) throw new Retry();
          return itemFromRow(rows[0]);
        });
      } catch (error) {
        if (!(error instanceof Retry)) throw error;
        // The item changed or went away since it was read: judge the call again on the latest state.
      }
    }
  }

  async deleteItem(userId: UserId, id: ItemId): Promise<{ modseq: Modseq }> {
    return this.mutate(userId, async (tx, modseq) => {
      const key = itemKey(id);
      const { rows } =
        key === undefined
          ? { rows: [] }
          : await tx.query(
              `WITH gone AS (
                 DELETE FROM ${T.items} WHERE user_id = $1 AND id = $2 RETURNING folder_id, added_modseq
               )
               INSERT INTO ${T.itemTombstones} (user_id, item_id, folder_id, added_modseq, modseq)
               SELECT $1, $2, folder_id, added_modseq, $3 FROM gone RETURNING folder_id`,
              [userId, key, modseq],
            );
      if (!rows[0]) throw new NotFoundError('item', String(id));
      return { modseq };
    });
  }

  async moveItem(userId: UserId, id: ItemId, destinationFolderId: FolderId): Promise<StoredItem> {
    return this.mutate(userId, async (tx, modseq) => {
      const key = itemKey(id);
      const destination = folderKey(destinationFolderId);
      const { rows } =
        key === undefined
          ? { rows: [] }
          : await tx.query<{
              folder_id: string;
              class: ItemClass;
              added_modseq: string;
              destination_type: number;
            }>(
              `SELECT folder_id::text AS folder_id, class, added_modseq,
                      (SELECT type FROM ${T.folders} WHERE user_id = $1 AND id = $3) AS destination_type
                 FROM ${T.items} WHERE user_id = $1 AND id = $2`,
              [userId, key, destination ?? null],
            );
      const item = rows[0];
      if (!item) throw new NotFoundError('item', String(id));
      if (item.destination_type === null || destination === undefined) {
        throw new NotFoundError('folder', String(destinationFolderId));
      }
      if (item.folder_id === destination) {
        throw new InvalidArgumentError(
          'same-folder',
          `item ${id} is already in folder ${destinationFolderId}`,
        );
      }
      if (!FOLDER_TYPES_FOR[item.class].includes(Number(item.destination_type))) {
        throw new InvalidArgumentError(
          'class-mismatch',
          `folder ${destinationFolderId} holds ${folderClass(Number(item.destination_type) as never)} items, not ${item.class}`,
        );
      }
      // The row moves under a new id (EAS DstMsgId); the old id leaves a tombstone in the source folder.
      const moved = await tx.query<ItemRow>(
        `WITH tombstone AS (
           INSERT INTO ${T.itemTombstones} (user_id, item_id, folder_id, added_modseq, modseq)
           VALUES ($1, $2, $4, $5, $6)
         )
         UPDATE ${T.items} SET id = nextval('${T.ids}'), folder_id = $3, added_modseq = $6, modseq = $6
          WHERE user_id = $1 AND id = $2
         RETURNING ${this.itemSelectMime}`,
        [userId, key, destination, item.folder_id, item.added_modseq, modseq],
      );
      return itemFromRow(moved.rows[0]!);
    });
  }

  async setReadState(userId: UserId, id: ItemId, read: boolean): Promise<StoredItem> {
    if (typeof read !== 'boolean') throw malformed('read must be a boolean');
    return this.writeEmail(userId, id, `read = $4, data = jsonb_set(data, '{read}', to_jsonb($4::boolean))`, [
      read,
    ]);
  }

  async setFlag(userId: UserId, id: ItemId, flag: EmailFlag | undefined): Promise<StoredItem> {
    if (flag !== undefined && ![0, 1, 2].includes(flag.status))
      throw malformed('flag status must be 0, 1 or 2');
    const encoded = flag === undefined ? null : JSON.stringify(encodeJson(structuredClone(flag)));
    return this.writeEmail(
      userId,
      id,
      `flag_status = $5::smallint,
       data = CASE WHEN $4::jsonb IS NULL THEN data - 'flag' ELSE jsonb_set(data, '{flag}', $4::jsonb) END`,
      [encoded, flag?.status ?? null],
    );
  }

  async changes(userId: UserId, id: FolderId, sinceModseq: Modseq, limit: number): Promise<ChangesPage> {
    checkModseq(sinceModseq);
    if (!Number.isInteger(limit) || limit < 1) throw malformed('limit must be a positive integer');
    // A page never holds more than MAX_PAGE changes, whatever the caller asks: memory stays bounded.
    const pageSize = Math.min(limit, MAX_PAGE);
    const key = folderKey(id);
    if (key === undefined || !isStorableText(userId)) return this.missing(userId, 'folder', id);
    // Three index ranges after the cursor, each cut at limit + 1: items that entered the folder (reported as
    // adds where they entered), items that were there and were written (changes), tombstones of items that
    // were there (deletes). Merged by position, one more row than the page says whether more remain. One
    // statement, so the page and the user's modseq come from one snapshot.
    const { rows } = await this.db.query<
      Partial<ItemRow> & {
        user_modseq: string | null;
        folder_found: boolean;
        kind: ItemChange['kind'] | null;
        pos: string;
        n: string;
        item_id: string;
      }
    >(
      `WITH log AS (
         (SELECT id, 'add' AS kind, added_modseq AS pos FROM ${T.items}
           WHERE folder_id = $2 AND added_modseq > $3 AND user_id = $1
           ORDER BY added_modseq LIMIT $4::int + 1)
         UNION ALL
         (SELECT id, 'change', modseq FROM ${T.items}
           WHERE folder_id = $2 AND modseq > $3 AND added_modseq <= $3 AND user_id = $1
           ORDER BY modseq LIMIT $4::int + 1)
         UNION ALL
         (SELECT item_id, 'delete', modseq FROM ${T.itemTombstones}
           WHERE folder_id = $2 AND modseq > $3 AND added_modseq <= $3 AND user_id = $1
           ORDER BY modseq LIMIT $4::int + 1)
       ), page AS (
         SELECT id, kind, pos, row_number() OVER (ORDER BY pos) AS n FROM log ORDER BY pos LIMIT $4::int + 1
       )
       SELECT (SELECT modseq FROM ${T.users} WHERE id = $1) AS user_modseq,
              EXISTS (SELECT 1 FROM ${T.folders} WHERE user_id = $1 AND id = $2) AS folder_found,
              p.kind, p.pos, p.n, p.id::text AS item_id,
              i.id::text AS id, i.folder_id::text AS folder_id, i.class, i.modseq, i.data, ${this.bytesOut('i.mime', 'mime')}
         FROM (SELECT 1) AS head
         LEFT JOIN page p ON true
         LEFT JOIN ${T.items} i ON p.kind <> 'delete' AND p.n <= $4::int AND i.user_id = $1 AND i.id = p.id
        ORDER BY p.pos`,
      [userId, key, sinceModseq, pageSize],
    );
    const head = rows[0]!;
    if (head.user_modseq === null) throw new NotFoundError('user', userId);
    if (!head.folder_found) throw new NotFoundError('folder', id);
    const changes: ItemChange[] = [];
    let more = false;
    for (const row of rows) {
      if (row.kind === null) continue;
      if (Number(row.n) > pageSize) {
        more = true;
        continue;
      }
      const modseq = Number(row.pos);
      const changedId = `i${row.item_id}`;
      if (row.kind === 'delete') changes.push({ kind: 'delete', itemId: changedId, modseq });
      else changes.push({ kind: row.kind, itemId: changedId, modseq, item: itemFromRow(row as ItemRow) });
    }
    const nextModseq = more ? changes.at(-1)!.modseq : Math.max(sinceModseq, Number(head.user_modseq));
    return { changes, more, nextModseq };
  }

  // Content -------------------------------------------------------------------------------------------------

  async readBody(userId: UserId, id: ItemId, options: ReadBodyOptions): Promise<BodyContent> {
    const max = options.truncateBytes;
    const validMax = max === undefined || (Number.isInteger(max) && max >= 0);
    const type = options.type;
    const validType = ['plain', 'html', 'rtf', 'mime'].includes(type);
    const key = itemKey(id);
    // Email bodies are cut in SQL: only the first max + 1 bytes travel (enough to find a character boundary).
    const column = type === 'plain' ? 'body_plain' : type === 'html' ? 'body_html' : 'mime';
    const row =
      key === undefined || !isStorableText(userId)
        ? undefined
        : (
            await this.db.query<{
              class: ItemClass;
              body: Json | null;
              native: 'plain' | 'html' | null;
              size: number | null;
              part: Uint8Array | string | null;
            }>(
              `SELECT class,
                      CASE WHEN class <> 'Email' THEN data -> 'body' END AS body,
                      body_native AS native,
                      octet_length(${column}) AS size,
                      ${this.bytesOut(`CASE WHEN $3::int IS NULL THEN ${column} ELSE substring(${column} FROM 1 FOR $3::int + 1) END`, 'part')}
                 FROM ${T.items} WHERE user_id = $1 AND id = $2`,
              // A limit beyond any bytea (1 GB) cannot cut anything: fetch the whole value.
              [
                userId,
                key,
                !validMax || !validType || type === 'rtf'
                  ? 0
                  : max === undefined || max >= 2 ** 30
                    ? null
                    : max,
              ],
            )
          ).rows[0];
    if (!row) return this.missing(userId, 'item', id);
    if (!validMax) throw malformed('truncateBytes must be a non-negative integer');
    if (!validType) throw malformed(`unknown body type ${type}`);
    const unsupported = () =>
      new InvalidArgumentError('unsupported-body-type', `item ${id} has no ${type} body`);
    if (row.class === 'Email') {
      if (type === 'rtf') throw unsupported();
      const nativeType = row.native ?? 'plain';
      const size = Number(row.size ?? 0);
      const bytes = row.part === null ? new Uint8Array(0) : plainBytes(row.part);
      const cut = max === undefined ? bytes : cutUtf8(bytes, max);
      const truncated = max !== undefined && size > max;
      if (type === 'mime') {
        return { type: 'mime', data: plainBytes(cut), estimatedSize: size, truncated, nativeType };
      }
      return { type, data: new TextDecoder().decode(cut), estimatedSize: size, truncated, nativeType };
    }
    if (type === 'mime') throw unsupported();
    const body = (row.body === null ? { type: 'plain', data: '' } : decodeJson(row.body)) as {
      type: 'plain' | 'html' | 'rtf';
      data: string;
    };
    if (body.type === 'rtf' || type === 'rtf') {
      if (body.type !== type) throw unsupported();
      return textBody('rtf', body.data, 'rtf', max);
    }
    let text = body.data;
    if (body.type !== type) text = type === 'plain' ? htmlToText(text) : textToHtml(text);
    return textBody(type, text, body.type, max);
  }

  async readAttachment(userId: UserId, reference: string): Promise<AttachmentContent> {
    const parsed = parseFileReference(reference);
    const row =
      parsed === undefined || !isStorableText(userId)
        ? undefined
        : (
            await this.db.query<{ mime: Uint8Array | string; listed: boolean }>(
              `SELECT ${this.bytesOut('mime', 'mime')}, jsonb_array_length(coalesce(data -> 'attachments', '[]'::jsonb)) > $3 AS listed
                 FROM ${T.items} WHERE user_id = $1 AND id = $2 AND class = 'Email'`,
              [userId, parsed.key, parsed.index],
            )
          ).rows[0];
    const part = row?.listed ? await readAttachmentPart(plainBytes(row.mime), parsed!.index) : undefined;
    if (!part) {
      if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
      await this.getUser(userId);
      throw new NotFoundError('attachment', String(reference));
    }
    return part;
  }

  async countItems(userId: UserId, id: FolderId, filter: ItemFilter = {}): Promise<number> {
    const key = folderKey(id);
    if (key === undefined || !isStorableText(userId)) return this.missing(userId, 'folder', id);
    const since = filter.since?.getTime();
    // An invalid Date matches what the in-memory store's comparison with NaN matches: open series only.
    const sinceMs = since === undefined ? null : Number.isNaN(since) ? '9223372036854775807' : String(since);
    const { rows } = await this.db.query<{ folder_found: boolean; n: string }>(
      `SELECT EXISTS (SELECT 1 FROM ${T.folders} WHERE user_id = $1 AND id = $2) AS folder_found,
              (SELECT count(*) FROM ${T.items}
                WHERE user_id = $1 AND folder_id = $2
                  AND ($3::text[] IS NULL OR class = ANY($3::text[]))
                  AND ($4::bigint IS NULL OR window_end_ms IS NULL OR window_end_ms >= $4::bigint)
                  AND (NOT $5::boolean OR class <> 'Tasks' OR NOT complete)) AS n`,
      [userId, key, filter.classes ?? null, sinceMs, filter.incompleteOnly === true],
    );
    if (!rows[0]?.folder_found) return this.missing(userId, 'folder', id);
    return Number(rows[0].n);
  }

  // Internals -----------------------------------------------------------------------------------------------

  /** A bytea expression as the select list returns it (base64 text on PGlite). */
  private bytesOut(expression: string, alias: string): string {
    return this.base64 ? `encode(${expression}, 'base64') AS ${alias}` : `${expression} AS ${alias}`;
  }

  /** A bytea parameter as SQL reads it (sent as base64 text on PGlite). */
  private bytesIn(index: number): string {
    return this.base64 ? `decode($${index}::text, 'base64')` : `$${index}::bytea`;
  }

  private bytesParam(bytes: Uint8Array | null): unknown {
    if (bytes === null) return null;
    return this.base64
      ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
      : bytes;
  }

  /** The values of mime, body_plain, body_html and body_native. */
  private contentValues(mime: Uint8Array | null, content: EmailBodies | undefined): unknown[] {
    if (mime === null || !content) return [null, null, null, null];
    return [
      this.bytesParam(mime),
      this.bytesParam(encoder.encode(content.plain)),
      this.bytesParam(encoder.encode(content.html)),
      content.nativeType,
    ];
  }

  /**
   * Runs a mutation in a transaction that first takes the user's next modseq (and with it the lock on the
   * user's row). Anything thrown rolls the transaction back, modseq included.
   */
  private async mutate<T>(userId: UserId, work: (tx: SqlExecutor, modseq: Modseq) => Promise<T>): Promise<T> {
    if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
    try {
      return await this.db.transaction(async (tx) => {
        const { rows } = await tx.query<{ modseq: string }>(
          `UPDATE ${T.users} SET modseq = modseq + 1 WHERE id = $1 RETURNING modseq`,
          [userId],
        );
        if (!rows[0]) throw new NotFoundError('user', userId);
        return work(tx, Number(rows[0].modseq));
      });
    } catch (error) {
      throw translate(error);
    }
  }

  /** Rewrites an Email's flag or read state at the next modseq; `assignments` use $4 onwards. */
  private writeEmail(userId: UserId, id: ItemId, assignments: string, extra: unknown[]): Promise<StoredItem> {
    return this.mutate(userId, async (tx, modseq) => {
      const key = itemKey(id);
      const { rows } =
        key === undefined
          ? { rows: [] }
          : await tx.query<ItemRow>(
              `UPDATE ${T.items} SET modseq = $3, ${assignments}
                WHERE user_id = $1 AND id = $2 AND class = 'Email'
               RETURNING ${this.itemSelectMime}`,
              [userId, key, modseq, ...extra],
            );
      if (rows[0]) return itemFromRow(rows[0]);
      const other =
        key === undefined
          ? undefined
          : (
              await tx.query<{ class: string }>(
                `SELECT class FROM ${T.items} WHERE user_id = $1 AND id = $2`,
                [userId, key],
              )
            ).rows[0];
      if (!other) throw new NotFoundError('item', String(id));
      throw new InvalidArgumentError('class-mismatch', `item ${id} is ${other.class}, not Email`);
    });
  }

  private async allFolders(db: SqlExecutor, userId: UserId): Promise<FolderRow[]> {
    if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
    const { rows } = await db.query<FolderRow>(
      `SELECT id::text AS id, parent_id::text AS parent_id, display_name, type
         FROM ${T.folders} WHERE user_id = $1 ORDER BY created_modseq`,
      [userId],
    );
    return rows;
  }

  /** Throws NotFoundError for the user when the user is unknown, else for the entity. */
  private async missing(userId: UserId, entity: MissingEntity, id: string): Promise<never> {
    await this.getUser(userId);
    throw new NotFoundError(entity, String(id));
  }
}

// Helpers -----------------------------------------------------------------------------------------------------

/** `$n, $n+1, ...` for the item columns. */
function columnParams(first: number): string {
  return ITEM_COLUMNS.map((name, i) => (name === 'data' ? `$${first + i}::jsonb` : `$${first + i}`)).join(
    ', ',
  );
}

/** `data = $n::jsonb, subject = $n+1, ...` for the item columns. */
function assignColumns(first: number): string {
  return ITEM_COLUMNS.map((name, i) => `${name} = $${first + i}${name === 'data' ? '::jsonb' : ''}`).join(
    ', ',
  );
}

const encoder = new TextEncoder();

/** Cuts `bytes` to at most `max` bytes without splitting a UTF-8 sequence (as the in-memory store does). */
function cutUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function textBody(
  type: 'plain' | 'html' | 'rtf',
  text: string,
  nativeType: 'plain' | 'html' | 'rtf',
  max: number | undefined,
): BodyContent {
  if (max === undefined) {
    return { type, data: text, estimatedSize: encoder.encode(text).byteLength, truncated: false, nativeType };
  }
  const cut = truncateUtf8(text, max);
  return { type, data: cut.data, estimatedSize: cut.size, truncated: cut.truncated, nativeType };
}

function parentsFirst(folders: Folder[]): Folder[] {
  const byId = new Map(folders.map((f) => [f.id, f]));
  const depth = (folder: Folder): number => {
    let d = 0;
    for (let p = folder.parentId; p !== ROOT_FOLDER_ID; p = byId.get(p)?.parentId ?? ROOT_FOLDER_ID) d++;
    return d;
  };
  return folders
    .map((f) => ({ f, d: depth(f) }))
    .sort((a, b) => a.d - b.d)
    .map((x) => x.f);
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '')
    throw malformed('folder name must be a non-empty string');
  if (!isStorableText(name)) throw malformed('a folder name cannot hold NUL or lone surrogates');
  return name;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The contract's merge: plain objects key by key, everything else whole, `undefined` removes. */
function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete target[key];
    else if (isPlainObject(value) && isPlainObject(target[key])) target[key] = deepMerge(target[key], value);
    else target[key] = value;
  }
  return target;
}

/** Database errors that are the caller's fault become the contract's errors; the rest pass through. */
function translate(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  // 54000: a value too large for an index or a row (e.g. a megabyte-long user id).
  if (code === '54000') return malformed((error as Error).message);
  return error;
}
