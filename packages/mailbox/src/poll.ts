import { NotFoundError } from './errors.js';
import type { UserId } from './ids.js';
import type { FolderPoll, MailboxStore, PollRequest, PollResult } from './store.js';

/**
 * Asks `store` whether the hierarchy (with `hierarchySince`) and each folder changed after its cursor: through
 * its `pollChanges` when it has one (one read on PostgreSQL), else with `folderChanges` and one `changes(…, 1)`
 * per folder, which is what the method's contract is defined by.
 * @throws NotFoundError `user`; InvalidArgumentError `malformed`.
 */
export async function pollChanges(
  store: MailboxStore,
  userId: UserId,
  request: PollRequest,
): Promise<PollResult> {
  if (store.pollChanges) return store.pollChanges(userId, request);
  const hierarchy =
    request.hierarchySince === undefined
      ? undefined
      : await store.folderChanges(userId, request.hierarchySince);
  const folders = await Promise.all(
    request.folders.map(async ({ folderId, sinceModseq }): Promise<FolderPoll> => {
      try {
        const page = await store.changes(userId, folderId, sinceModseq, 1);
        return page.changes.length > 0 ? 'changed' : 'unchanged';
      } catch (error) {
        if (error instanceof NotFoundError && error.entity === 'folder') return 'gone';
        throw error;
      }
    }),
  );
  if (hierarchy === undefined) return { folders };
  const changed = hierarchy.added.length + hierarchy.changed.length + hierarchy.deleted.length > 0;
  return { hierarchyChanged: changed, folders };
}
