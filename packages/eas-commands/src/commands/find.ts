import {
  type EmailAddress,
  ITEM_CLASSES,
  type ItemClass,
  NotFoundError,
  type SearchCondition,
  SearchTooComplexError,
  type StoredItem,
  type UserId,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { formatAddress } from '../convert/addresses.js';
import type { EasCommandHandler, EasCommandResult } from '../http/handler.js';
import {
  galProperties,
  type PictureRequest,
  pictureBudget,
  readPictureRequest,
  SearchRequestError,
  type SearchServices,
} from './search.js';
import { folderVisible } from './services.js';

const { Find: F, AirSync: AS, ItemOperations: IO, Email: E, Email2: E2 } = eas;

/** Find statuses (MS-ASCMD 2.2.3.177.2), for the Find and Response elements. */
export const FindStatus = {
  Success: 1,
  /** The request breaks the protocol. */
  InvalidRequest: 2,
  /** A `CollectionId` the user does not have: the device must FolderSync first. */
  FolderSyncRequired: 3,
  /** `Range` is outside 0 ≤ m ≤ n ≤ 999. */
  InvalidRange: 4,
} as const;

export interface FindCommandOptions {
  /** Most results one response carries; default 100. */
  readonly maxResults?: number;
  readonly onError?: (info: { user: UserId; error: unknown }) => void;
}

class FindRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Words of a KQL query: `property:` prefixes and the AND / OR / NOT operators are dropped; terms are ANDed. */
export function kqlFreeText(query: string): string {
  return query
    .replace(/[\p{L}\p{N}_]+:/gu, ' ')
    .split(/\s+/)
    .filter((word) => word !== '' && !['AND', 'OR', 'NOT'].includes(word))
    .join(' ');
}

/**
 * Find (MS-ASCMD 2.2.1.2, 16.1 only; the endpoint answers 501 for older versions). `MailBoxSearchCriterion`
 * searches the mailbox through `MailboxSearch`: `FreeText` is read as KQL terms (every term must match as a word
 * prefix; `property:` restrictions are widened to the whole item), optionally narrowed by `airsync:Class` and
 * `airsync:CollectionId` (with `DeepTraversal`, its subfolders too); results are Email summaries with
 * `airsync:ServerId` + `airsync:CollectionId` for ItemOperations. `GALSearchCriterion` searches the directory
 * and returns Gal properties, with photos under `Picture`'s limits. `Range` is `m-n` with 0 ≤ m ≤ n ≤ 999
 * (default `0-99`, at most `maxResults` returned).
 */
export function findCommand(services: SearchServices, options: FindCommandOptions = {}): EasCommandHandler {
  const maxResults = options.maxResults ?? 100;
  return async ({ identity, body }): Promise<EasCommandResult> => {
    const user = identity.userId;
    const answer = (status: number, content: WbxmlElement[] = []): EasCommandResult => ({
      kind: 'wbxml',
      body: F.Find(F.Status(FindStatus.Success), F.Response(IO.Store('Mailbox'), F.Status(status), content)),
    });
    const fail = (status: number): EasCommandResult => ({ kind: 'wbxml', body: F.Find(F.Status(status)) });
    if (body?.qualifiedName !== 'Find:Find') return fail(FindStatus.InvalidRequest);
    const searchId = body.textOf('Find:SearchId');
    const execute = body.child('Find:ExecuteSearch');
    if (!searchId || !execute || execute.children.length !== 1) return fail(FindStatus.InvalidRequest);
    const criterion = execute.children[0]!;
    try {
      if (criterion.qualifiedName === 'Find:MailBoxSearchCriterion')
        return answer(FindStatus.Success, await mailbox(criterion));
      if (criterion.qualifiedName === 'Find:GalSearchCriterion')
        return answer(FindStatus.Success, await gal(criterion));
      return fail(FindStatus.InvalidRequest);
    } catch (error) {
      if (error instanceof FindRequestError) return answer(error.status);
      if (error instanceof SearchRequestError || error instanceof SearchTooComplexError) {
        return answer(FindStatus.InvalidRequest);
      }
      if (error instanceof NotFoundError && error.entity === 'folder')
        return answer(FindStatus.FolderSyncRequired);
      options.onError?.({ user, error });
      throw error;
    }

    async function mailbox(criterion: WbxmlElement): Promise<WbxmlElement[]> {
      const query = criterion.child('Find:Query');
      if (!query) throw new FindRequestError(FindStatus.InvalidRequest, 'no Query');
      const findOptions = criterion.child('Find:Options');
      const range = readRange(findOptions, maxResults);
      const parts: SearchCondition[] = [{ freeText: kqlFreeText(query.textOf('Find:FreeText') ?? '') }];
      const className = query.textOf('AirSync:Class')?.trim();
      if (className !== undefined) {
        const known = ITEM_CLASSES.find((candidate) => candidate === className);
        parts.push({ classes: known ? [known] : ([] as ItemClass[]) });
      }
      const collectionId = query.textOf('AirSync:CollectionId')?.trim();
      const visible = (await services.mailbox.listFolders(user)).filter((folder) =>
        folderVisible(services, folder),
      );
      parts.push({ folders: visible.map((folder) => folder.id) });
      if (collectionId) {
        parts.push({ folders: [collectionId], deep: findOptions?.has('Find:DeepTraversal') === true });
      }
      const found = await services.search.search(user, {
        condition: { and: parts },
        offset: range.start,
        limit: range.count,
      });
      const results: WbxmlElement[] = [];
      for (const hit of found.hits) {
        let item: StoredItem;
        try {
          item = await services.mailbox.getItem(user, hit.itemId);
        } catch (error) {
          if (error instanceof NotFoundError) continue;
          throw error;
        }
        results.push(
          F.Result(
            AS.Class(item.class),
            AS.ServerId(item.id),
            AS.CollectionId(item.folderId),
            F.Properties(summary(item)),
          ),
        );
      }
      return finish(results, range.start, found.total);
    }

    async function gal(criterion: WbxmlElement): Promise<WbxmlElement[]> {
      const query = criterion.child('Find:Query');
      const text = query?.textOf('Find:FreeText') ?? query?.text;
      if (text === undefined || text.trim() === '')
        throw new FindRequestError(FindStatus.InvalidRequest, 'no query');
      const findOptions = criterion.child('Find:Options');
      const range = readRange(findOptions, maxResults);
      const directory = services.directory;
      if (!directory) return finish([], range.start, 0);
      const pictureRequest: PictureRequest | undefined = readPictureRequest(
        findOptions?.child('Find:Picture'),
      );
      const picture = pictureRequest ? pictureBudget(directory, pictureRequest) : undefined;
      const found = await directory.search(kqlFreeText(text), { offset: range.start, limit: range.count });
      const results: WbxmlElement[] = [];
      for (const entry of found.entries) {
        const photo = picture ? await picture(entry.id) : undefined;
        results.push(F.Result(F.Properties(galProperties(entry, photo))));
      }
      return finish(results, range.start, found.total);
    }
  };
}

function finish(results: WbxmlElement[], start: number, total: number): WbxmlElement[] {
  return [
    ...results,
    ...(results.length > 0 ? [F.Range(`${start}-${start + results.length - 1}`)] : []),
    F.Total(total),
  ];
}

function readRange(options: WbxmlElement | undefined, maxResults: number): { start: number; count: number } {
  const text = options?.textOf('Find:Range');
  if (text === undefined) return { start: 0, count: maxResults };
  const match = /^\s*(\d{1,9})\s*-\s*(\d{1,9})\s*$/.exec(text);
  if (!match) throw new FindRequestError(FindStatus.InvalidRequest, `bad Range ${text}`);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end || end > 999)
    throw new FindRequestError(FindStatus.InvalidRange, `Range ${text} out of bounds`);
  return { start, count: Math.min(end - start + 1, maxResults) };
}

const names = (list: readonly EmailAddress[] | undefined): string | undefined =>
  list?.length ? list.map((entry) => entry.name ?? entry.address).join('; ') : undefined;

/** The summary properties of a Find result (MS-ASCMD 2.2.3.139.1); non-Email items carry their subject only. */
function summary(item: StoredItem): WbxmlElement[] {
  if (item.class !== 'Email') {
    const subject = 'subject' in item.data ? item.data.subject : undefined;
    return subject ? [E.Subject(subject)] : [];
  }
  const d = item.data;
  const out: (WbxmlElement | null)[] = [
    d.subject ? E.Subject(d.subject) : null,
    E.DateReceived(d.dateReceived.toISOString()),
    d.displayTo || names(d.to) ? E.DisplayTo(d.displayTo || names(d.to)!) : null,
    names(d.cc) ? F.DisplayCc(names(d.cc)!) : null,
    names(d.bcc) ? F.DisplayBcc(names(d.bcc)!) : null,
    E.Importance(d.importance ?? 1),
    E.Read(d.read ? 1 : 0),
    E2.IsDraft(d.isDraft ? 1 : 0),
    d.preview ? F.Preview(d.preview.slice(0, 255)) : null,
    F.HasAttachments(d.attachments?.some((attachment) => !attachment.isInline) ? 1 : 0),
    d.from ? E.From(formatAddress(d.from)) : null,
  ];
  return out.filter((element): element is WbxmlElement => element !== null);
}
