import {
  type FolderPoll,
  NotFoundError,
  type PollRequest,
  type PollResult,
  type UserId,
} from '@easkit/mailbox';
import type { SqlExecutor } from './database.js';
import { checkModseq, folderKey, isStorableText } from './mailbox-rows.js';

/**
 * `PgMailboxStore.pollChanges`: the hierarchy and every asked folder against its cursor, in one statement.
 *
 * A folder changed after `since` exactly when `changes(…, since, 1)` would return something: an item in it
 * written after `since` (an item's modseq is never below the modseq it entered the folder at, so this covers
 * the adds too), or a tombstone after `since` of an item that was in it at `since`. Each is one probe of the
 * (folder_id, modseq) indexes. The hierarchy changed when a folder was written after `hierarchySince`, or one
 * that existed then was deleted, which is what `folderChanges` reports.
 */
export async function pollMailboxChanges(
  db: SqlExecutor,
  userId: UserId,
  request: PollRequest,
): Promise<PollResult> {
  const hierarchySince = request.hierarchySince;
  if (hierarchySince !== undefined) checkModseq(hierarchySince);
  for (const folder of request.folders) checkModseq(folder.sinceModseq);
  if (!isStorableText(userId)) throw new NotFoundError('user', String(userId));
  // Ids no folder can have are gone without asking; the rest go to the statement by position.
  const keys = request.folders.map((folder) => folderKey(folder.folderId));
  const asked = request.folders.flatMap((folder, index) =>
    keys[index] === undefined ? [] : [{ key: keys[index], since: folder.sinceModseq }],
  );
  const { rows } = await db.query<{ user_found: boolean | null; hierarchy: boolean | null; polls: string[] }>(
    `SELECT (SELECT true FROM easkit_mailbox_users WHERE id = $1) AS user_found,
            CASE WHEN $2::bigint IS NULL THEN NULL ELSE
              EXISTS (SELECT 1 FROM easkit_mailbox_folders WHERE user_id = $1 AND modseq > $2::bigint)
              OR EXISTS (SELECT 1 FROM easkit_mailbox_folder_tombstones
                          WHERE user_id = $1 AND modseq > $2::bigint AND created_modseq <= $2::bigint)
            END AS hierarchy,
            ARRAY(
              SELECT CASE
                       WHEN NOT EXISTS (SELECT 1 FROM easkit_mailbox_folders f
                                         WHERE f.user_id = $1 AND f.id = k.folder_id) THEN 'gone'
                       WHEN EXISTS (SELECT 1 FROM easkit_mailbox_items i
                                     WHERE i.folder_id = k.folder_id AND i.modseq > k.since AND i.user_id = $1)
                         OR EXISTS (SELECT 1 FROM easkit_mailbox_item_tombstones t
                                     WHERE t.folder_id = k.folder_id AND t.modseq > k.since
                                       AND t.added_modseq <= k.since AND t.user_id = $1) THEN 'changed'
                       ELSE 'unchanged'
                     END
                FROM unnest($3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(folder_id, since, n)
               ORDER BY k.n
            ) AS polls`,
    [userId, hierarchySince ?? null, asked.map((each) => each.key), asked.map((each) => each.since)],
  );
  const row = rows[0];
  if (!row?.user_found) throw new NotFoundError('user', userId);
  const answers = row.polls as FolderPoll[];
  let next = 0;
  const folders = keys.map((key): FolderPoll => (key === undefined ? 'gone' : answers[next++]!));
  return hierarchySince === undefined ? { folders } : { hierarchyChanged: row.hierarchy === true, folders };
}
