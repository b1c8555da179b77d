import type { WbxmlElement } from '@easkit/wbxml';
import type { BodyPreference, ContentOptions } from '../convert/types.js';

/** `MIMETruncation` codes (MS-ASCMD 2.2.3.109) in bytes; 8 means no truncation. */
const MIME_TRUNCATION = [0, 4096, 5120, 7168, 10240, 20480, 51200, 102400];
/** 2.5 `Truncation` codes (MS-ASCMD 2.2.3.185) in bytes; 9 means no truncation. */
const BODY_TRUNCATION = [0, 512, 1024, 2048, 5120, 10240, 20480, 51200, 102400];

/** A collection's Sync options as the device chose them; kept with the sync state (plain JSON). */
export interface SyncOptions {
  filterType: number;
  /** 1 server wins (the default), 0 client wins. */
  conflict: number;
  mimeSupport: number;
  /** Bytes, or -1 for no truncation. */
  mimeTruncation: number;
  /** 2.5 body truncation in bytes, or -1 for none. */
  truncation: number;
  bodyPreferences: { type: number; truncationSize?: number; allOrNone?: boolean; preview?: number }[];
  /** 14.1+ `BodyPartPreference`s (Type 2, HTML, is the only type MS-ASAIRS defines for body parts). */
  bodyPartPreferences?: { type: number; truncationSize?: number; allOrNone?: boolean; preview?: number }[];
  rightsManagementSupport: boolean;
  maxItems: number;
  /** Tags of the `Supported` list sent with key 0 (`Namespace:Name`); absent when none was sent. */
  supported?: string[];
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  filterType: 0,
  conflict: 1,
  mimeSupport: 0,
  mimeTruncation: -1,
  truncation: -1,
  bodyPreferences: [],
  rightsManagementSupport: false,
  maxItems: 0,
};

/** Thrown for option values out of range: the collection answers Status 4 (protocol error). */
export class InvalidOptionsError extends Error {}

function intIn(element: WbxmlElement, name: string, min: number, max: number): number | undefined {
  const text = element.textOf(name);
  if (text === undefined) return undefined;
  if (!/^\d{1,10}$/.test(text.trim())) throw new InvalidOptionsError(`${name} is not a number`);
  const value = Number(text);
  if (value < min || value > max) throw new InvalidOptionsError(`${name} ${value} is out of range`);
  return value;
}

/**
 * Merges the `Options` of a Sync collection into the stored options: what the request says wins, the rest
 * carries over (a Sync without Options reuses the previous ones).
 */
export function readSyncOptions(
  options: WbxmlElement | undefined,
  stored: SyncOptions | undefined,
  supported: WbxmlElement | undefined,
): SyncOptions {
  const result: SyncOptions = { ...DEFAULT_SYNC_OPTIONS, ...stored };
  if (supported) result.supported = supported.children.map((child) => `${child.namespace}:${child.name}`);
  if (!options) return result;
  result.filterType = intIn(options, 'FilterType', 0, 8) ?? result.filterType;
  result.conflict = intIn(options, 'Conflict', 0, 1) ?? result.conflict;
  result.mimeSupport = intIn(options, 'MIMESupport', 0, 2) ?? result.mimeSupport;
  const mimeTruncation = intIn(options, 'MIMETruncation', 0, 8);
  if (mimeTruncation !== undefined) result.mimeTruncation = MIME_TRUNCATION[mimeTruncation] ?? -1;
  const truncation = intIn(options, 'Truncation', 0, 9);
  if (truncation !== undefined) result.truncation = BODY_TRUNCATION[truncation] ?? -1;
  result.maxItems = intIn(options, 'MaxItems', 0, 0xffffffff) ?? result.maxItems;
  if (options.has('RightsManagementSupport')) {
    result.rightsManagementSupport = options.boolOf('RightsManagementSupport') ?? false;
  }
  const readPreferences = (name: 'BodyPreference' | 'BodyPartPreference', maxType: number) =>
    options.all(name).map((preference) => {
      const type = intIn(preference, 'Type', 1, maxType);
      if (type === undefined) throw new InvalidOptionsError(`${name} without Type`);
      const entry: SyncOptions['bodyPreferences'][number] = { type };
      const size = intIn(preference, 'TruncationSize', 0, 0xffffffff);
      if (size !== undefined) entry.truncationSize = size;
      if (preference.has('AllOrNone')) entry.allOrNone = preference.boolOf('AllOrNone') ?? false;
      const preview = intIn(preference, 'Preview', 0, 255);
      if (preview !== undefined) entry.preview = preview;
      return entry;
    });
  const preferences = readPreferences('BodyPreference', 4);
  if (preferences.length > 0) result.bodyPreferences = preferences;
  const partPreferences = readPreferences('BodyPartPreference', 2);
  if (partPreferences.length > 0) result.bodyPartPreferences = partPreferences;
  return result;
}

/** The converters' view of the options. */
export function contentOptions(options: SyncOptions): ContentOptions {
  return {
    bodyPreferences: options.bodyPreferences as BodyPreference[],
    ...(options.bodyPartPreferences
      ? { bodyPartPreferences: options.bodyPartPreferences as BodyPreference[] }
      : {}),
    mimeSupport: options.mimeSupport as 0 | 1 | 2,
    ...(options.mimeTruncation >= 0 ? { mimeTruncation: options.mimeTruncation } : {}),
    ...(options.truncation >= 0 ? { truncation: options.truncation } : {}),
    rightsManagementSupport: options.rightsManagementSupport,
  };
}

const DAY = 24 * 60 * 60 * 1000;
/** FilterType (MS-ASCMD 2.2.3.70.2) as a window in days; 8 is "incomplete tasks". */
const FILTER_DAYS = [0, 1, 3, 7, 14, 31, 93, 186];

/** The oldest time a FilterType lets through, or undefined for no date window. */
export function filterCutoff(filterType: number, now: number): Date | undefined {
  const days = FILTER_DAYS[filterType];
  return days ? new Date(now - days * DAY) : undefined;
}
