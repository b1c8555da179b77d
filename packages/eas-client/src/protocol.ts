/** The protocol versions this client speaks, oldest first (MS-ASHTTP 2.2.1.1.2.4). */
export const CLIENT_VERSIONS = ['2.5', '12.0', '12.1', '14.0', '14.1', '16.0', '16.1'] as const;

export type EasVersion = (typeof CLIENT_VERSIONS)[number];

/** Every command a client sends, with its code in the base64 query form (MS-ASHTTP 2.2.1.1.1.1.2). */
export const COMMAND_CODES = {
  Sync: 0,
  SendMail: 1,
  SmartForward: 2,
  SmartReply: 3,
  GetAttachment: 4,
  FolderSync: 9,
  FolderCreate: 10,
  FolderDelete: 11,
  FolderUpdate: 12,
  MoveItems: 13,
  GetItemEstimate: 14,
  MeetingResponse: 15,
  Search: 16,
  Settings: 17,
  Ping: 18,
  ItemOperations: 19,
  Provision: 20,
  ResolveRecipients: 21,
  ValidateCert: 22,
  Find: 23,
} as const;

export type EasCommand = keyof typeof COMMAND_CODES;

export function isEasVersion(value: string): value is EasVersion {
  return (CLIENT_VERSIONS as readonly string[]).includes(value);
}

/** Compares two protocol versions numerically (`'12.1' < '14.0'`). */
export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export function atLeast(version: string, floor: string): boolean {
  return compareVersions(version, floor) >= 0;
}

/** The highest version both sides speak, optionally capped by `preferred`; undefined when there is none. */
export function negotiateVersion(
  serverVersions: readonly string[],
  preferred?: string,
): EasVersion | undefined {
  const common = CLIENT_VERSIONS.filter((version) => serverVersions.includes(version));
  const allowed = preferred ? common.filter((version) => compareVersions(version, preferred) <= 0) : common;
  return allowed.at(-1);
}

/** The version byte of the base64 query form: the version times ten (MS-ASHTTP 2.2.1.1.1.1.1). */
export function versionByte(version: string): number {
  return Math.round(Number(version) * 10);
}

/** The policy type a version provisions with (MS-ASPROV 2.2.2.42). */
export function policyTypeFor(version: string): 'MS-WAP-Provisioning-XML' | 'MS-EAS-Provisioning-WBXML' {
  return version === '2.5' ? 'MS-WAP-Provisioning-XML' : 'MS-EAS-Provisioning-WBXML';
}

/** Folder types of FolderSync (MS-ASCMD 2.2.3.186.3). */
export const FolderType = {
  UserGeneric: 1,
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

export type ItemClass = 'Email' | 'Calendar' | 'Contacts' | 'Tasks' | 'Notes';

/** The class a folder of this type syncs, or undefined for folders a device does not sync (Journal, unknown). */
export function classOfFolderType(type: number): ItemClass | undefined {
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

/** Statuses a 14.0+ server puts in any command's top-level Status to ask for Provision (MS-ASCMD 2.2.2). */
export const PROVISION_STATUSES: ReadonlySet<number> = new Set([140, 142, 143, 144]);
/** Statuses that refuse the device or user outright (MS-ASCMD 2.2.2). */
export const ACCESS_STATUSES: ReadonlySet<number> = new Set([126, 127, 129, 130, 141]);
