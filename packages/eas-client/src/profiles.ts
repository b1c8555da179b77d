import type { EasClientOptions } from './client.js';
import type { BodyPreference, SyncOptions } from './commands/sync.js';
import { atLeast, type EasVersion, FolderType, type ItemClass } from './protocol.js';

/** Which profile: the families of clients that make most of the traffic of an EAS server. */
export type ProfileName = 'ios' | 'android' | 'outlook';

/** How one class of folder is synced by a profile. */
export interface ClassSyncShape extends SyncOptions {
  /** Kept in sync at all (and so Pinged when it is in `pushClasses`). */
  sync: boolean;
}

/**
 * The request shapes of a family of clients: identity headers, versions, window sizes, body preferences,
 * filters, heartbeat and the folders it syncs and pushes. The values are typical of the family, not a
 * capture of one release: close enough that a server sees the same mix of requests, not a fingerprint.
 */
export interface DeviceProfile {
  name: ProfileName;
  /** A line for reports. */
  description: string;
  /** The DeviceType query parameter (MS-ASHTTP 2.2.1.1.1.2.4). */
  deviceType: string;
  userAgent: string;
  /** The versions this family speaks, highest first; a device uses the highest the server offers. */
  versions: readonly EasVersion[];
  /** The base64 query form from 12.1 (iOS uses it), or the plain one. */
  queryForm: 'plain' | 'base64';
  model: string;
  os: string;
  /** Per class: whether it is synced, and with which window, filter and body preference. */
  classes: Record<ItemClass, ClassSyncShape>;
  /** The classes whose folders are in the Ping. */
  pushClasses: readonly ItemClass[];
  /** The first HeartbeatInterval a device sends, in seconds; it grows by `heartbeatStepSec` while Pings time out. */
  heartbeatSec: number;
  heartbeatStepSec: number;
  heartbeatMaxSec: number;
  /** Also sync these folder types when present (Sent Items, Drafts...), at the Email shape. */
  extraMailFolders: readonly number[];
}

const textPreview = (truncationSize: number, preview?: number): BodyPreference[] => [
  { type: 2, truncationSize, ...(preview !== undefined ? { preview } : {}) },
];

export const PROFILES: Record<ProfileName, DeviceProfile> = {
  ios: {
    name: 'ios',
    description: 'iOS Mail-like: base64 query, HTML bodies truncated, a month of mail, long heartbeats',
    deviceType: 'iPhone',
    userAgent: 'Apple-iPhone15C2/2104.92',
    versions: ['16.1', '14.1', '12.1'],
    queryForm: 'base64',
    model: 'iPhone15C2',
    os: 'iOS 17.4',
    classes: {
      Email: {
        sync: true,
        windowSize: 25,
        filterType: 5,
        bodyPreferences: textPreview(32_768),
        mimeSupport: 0,
      },
      Calendar: { sync: true, windowSize: 50, filterType: 5, bodyPreferences: textPreview(32_768) },
      Contacts: { sync: true, windowSize: 100, bodyPreferences: [{ type: 1, truncationSize: 32_768 }] },
      Tasks: { sync: true, windowSize: 50, bodyPreferences: [{ type: 1, truncationSize: 32_768 }] },
      Notes: { sync: true, windowSize: 50, bodyPreferences: [{ type: 1, truncationSize: 32_768 }] },
    },
    pushClasses: ['Email', 'Calendar', 'Contacts', 'Tasks', 'Notes'],
    heartbeatSec: 900,
    heartbeatStepSec: 300,
    heartbeatMaxSec: 1_680,
    extraMailFolders: [FolderType.SentItems, FolderType.DeletedItems],
  },
  android: {
    name: 'android',
    description:
      'Gmail/Samsung Email-like: plain query, small windows, short HTML bodies with previews, shorter heartbeats',
    deviceType: 'SAMSUNGSMS911B',
    userAgent: 'SAMSUNG-SM-S911B/101.140104',
    versions: ['14.1', '12.1', '2.5'],
    queryForm: 'plain',
    model: 'SM-S911B',
    os: 'Android 14',
    classes: {
      Email: {
        sync: true,
        windowSize: 10,
        filterType: 3,
        bodyPreferences: textPreview(5_120, 255),
        mimeSupport: 0,
      },
      Calendar: { sync: true, windowSize: 10, filterType: 5 },
      Contacts: { sync: true, windowSize: 50 },
      Tasks: { sync: true, windowSize: 10, filterType: 8 },
      Notes: { sync: false },
    },
    pushClasses: ['Email', 'Calendar', 'Contacts'],
    heartbeatSec: 540,
    heartbeatStepSec: 60,
    heartbeatMaxSec: 1_500,
    extraMailFolders: [FolderType.SentItems],
  },
  outlook: {
    name: 'outlook',
    description: 'Outlook mobile-like: 16.1, large windows, two weeks of mail, Inbox and Calendar pushed',
    deviceType: 'Outlook',
    userAgent: 'Outlook-iOS-Android/1.0',
    versions: ['16.1', '14.1'],
    queryForm: 'plain',
    model: 'Outlook for iOS and Android',
    os: 'Android 14',
    classes: {
      Email: {
        sync: true,
        windowSize: 100,
        filterType: 4,
        bodyPreferences: textPreview(51_200, 255),
        conversationMode: true,
      },
      Calendar: { sync: true, windowSize: 100, filterType: 6, bodyPreferences: textPreview(51_200) },
      Contacts: { sync: true, windowSize: 200 },
      Tasks: { sync: false },
      Notes: { sync: false },
    },
    pushClasses: ['Email', 'Calendar'],
    heartbeatSec: 480,
    heartbeatStepSec: 0,
    heartbeatMaxSec: 480,
    extraMailFolders: [],
  },
};

/** Every profile with every version it covers: the pairs the device scenarios run. */
export function profileVersions(): { profile: DeviceProfile; version: EasVersion }[] {
  return Object.values(PROFILES).flatMap((profile) =>
    profile.versions.map((version) => ({ profile, version })),
  );
}

/**
 * The `EasClient` options of a device of this profile: identity, User-Agent, query form and DeviceInformation.
 * `version` caps the version (default: the profile's highest); `url` and `credentials` are the caller's.
 */
export function profileClientOptions(
  profile: DeviceProfile,
  version: EasVersion = profile.versions[0] as EasVersion,
): Omit<EasClientOptions, 'url' | 'credentials'> {
  return {
    deviceType: profile.deviceType,
    userAgent: profile.userAgent,
    protocolVersion: version,
    queryForm: profile.queryForm,
    deviceInformation: {
      model: profile.model,
      os: profile.os,
      friendlyName: `${profile.name} ${version}`,
      userAgent: profile.userAgent,
    },
  };
}

/** The Sync options of a class for this profile at this version (no body preference before 12.0). */
export function syncShape(profile: DeviceProfile, itemClass: ItemClass, version: string): SyncOptions {
  const { sync: _sync, ...shape } = profile.classes[itemClass];
  if (!atLeast(version, '12.0')) delete shape.bodyPreferences;
  if (!atLeast(version, '14.0')) delete shape.conversationMode;
  return shape;
}

/** Whether a device of this profile syncs this class at this version (Notes exist from 14.0). */
export function syncsClass(profile: DeviceProfile, itemClass: ItemClass, version: string): boolean {
  if (itemClass === 'Notes' && !atLeast(version, '14.0')) return false;
  return profile.classes[itemClass].sync;
}

/** A profile mix such as `ios=2,android=2,outlook=1` as weights. */
export function parseProfileMix(text: string): { profile: DeviceProfile; weight: number }[] {
  const mix = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, weightText] = part.split('=');
      const profile = PROFILES[name?.trim() as ProfileName];
      if (!profile) throw new Error(`unknown profile ${name}: use ios, android or outlook`);
      const weight = weightText === undefined ? 1 : Number(weightText);
      if (!Number.isFinite(weight) || weight < 0) throw new Error(`bad weight in ${part}`);
      return { profile, weight };
    });
  if (mix.length === 0 || mix.every((entry) => entry.weight === 0))
    throw new Error('the profile mix is empty');
  return mix;
}

const PRIMARY_FOLDER: Record<ItemClass, number> = {
  Email: FolderType.Inbox,
  Calendar: FolderType.Calendar,
  Contacts: FolderType.Contacts,
  Tasks: FolderType.Tasks,
  Notes: FolderType.Notes,
};

/** A folder a device of a profile keeps in sync, with its class and whether it is in the Ping. */
export interface ProfileFolder {
  serverId: string;
  displayName: string;
  itemClass: ItemClass;
  pushed: boolean;
}

/**
 * The folders of a hierarchy that a device of this profile syncs: the default folder of each class it syncs,
 * plus its extra mail folders; the default folders of its push classes are pushed.
 */
export function profileFolders(
  profile: DeviceProfile,
  version: string,
  hierarchy: readonly { serverId: string; displayName: string; type: number }[],
): ProfileFolder[] {
  const chosen: ProfileFolder[] = [];
  for (const [itemClass, type] of Object.entries(PRIMARY_FOLDER) as [ItemClass, number][]) {
    if (!syncsClass(profile, itemClass, version)) continue;
    const folder = hierarchy.find((entry) => entry.type === type);
    if (!folder) continue;
    chosen.push({
      serverId: folder.serverId,
      displayName: folder.displayName,
      itemClass,
      pushed: profile.pushClasses.includes(itemClass),
    });
  }
  for (const type of profile.extraMailFolders) {
    const folder = hierarchy.find((entry) => entry.type === type);
    if (folder) {
      chosen.push({
        serverId: folder.serverId,
        displayName: folder.displayName,
        itemClass: 'Email',
        pushed: false,
      });
    }
  }
  return chosen;
}
