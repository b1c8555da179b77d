import type { FolderId } from '../ids.js';
import type { ItemClass } from './item.js';

/** EAS folder types (MS-ASCMD 2.2.3.186.3, FolderSync `Type`). */
export const FolderType = {
  Generic: 1,
  Inbox: 2,
  Drafts: 3,
  DeletedItems: 4,
  SentItems: 5,
  Outbox: 6,
  Tasks: 7,
  Calendar: 8,
  Contacts: 9,
  Notes: 10,
  Journal: 11,
  UserMail: 12,
  UserCalendar: 13,
  UserContacts: 14,
  UserTasks: 15,
  UserJournal: 16,
  UserNotes: 17,
  Unknown: 18,
  RecipientInformationCache: 19,
} as const;

export type FolderType = (typeof FolderType)[keyof typeof FolderType];

/** The `ParentId` of a top-level folder. */
export const ROOT_FOLDER_ID: FolderId = '0';

/**
 * A folder as the store returns it. `parentId` is {@link ROOT_FOLDER_ID} for top-level folders.
 */
export interface Folder {
  id: FolderId;
  parentId: FolderId;
  displayName: string;
  type: FolderType;
}

/** Default folders: a user has at most one of each, and they cannot be renamed, moved or deleted. */
export const SPECIAL_FOLDER_TYPES: readonly FolderType[] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 19];

export function isFolderType(value: unknown): value is FolderType {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 19;
}

export function isSpecialFolderType(type: FolderType): boolean {
  return SPECIAL_FOLDER_TYPES.includes(type);
}

/**
 * The item class a folder of this type holds, as clients decide it (MS-ASCMD 2.2.3.186.3); `undefined` for
 * journal and unknown folders, which EAS clients do not sync and which the store does not restrict.
 */
export function folderClass(type: FolderType): ItemClass | undefined {
  switch (type) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 12:
      return 'Email';
    case 8:
    case 13:
      return 'Calendar';
    case 9:
    case 14:
    case 19:
      return 'Contacts';
    case 7:
    case 15:
      return 'Tasks';
    case 10:
    case 17:
      return 'Notes';
    default:
      return undefined;
  }
}
