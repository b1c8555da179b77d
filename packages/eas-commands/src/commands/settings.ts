import type { MailboxStore, User, UserId } from '@easkit/mailbox';
import type { DeviceSighting, DeviceStore } from '@easkit/policy';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast, type ProtocolVersion } from '../http/protocol-version.js';

const { Settings: ST, RightsManagement: RM } = eas;

/**
 * Status of the Settings element and of each setting in a Settings response (MS-ASCMD 2.2.3.177.15). The same
 * values serve both levels.
 */
export const SettingsStatus = {
  Success: 1,
  ProtocolError: 2,
  AccessDenied: 3,
  ServerUnavailable: 4,
  InvalidArguments: 5,
  ConflictingArguments: 6,
  DeniedByPolicy: 7,
} as const;

/** OofState (MS-ASCMD 2.2.3.124): 0 off, 1 on until turned off, 2 on within the StartTime-EndTime window. */
export const OofState = { Disabled: 0, Global: 1, TimeBased: 2 } as const;
export type OofStateValue = (typeof OofState)[keyof typeof OofState];

/** Who an out-of-office reply goes to: colleagues, known external senders (contacts), everyone else. */
export type OofAudience = 'internal' | 'externalKnown' | 'externalUnknown';

export const OOF_AUDIENCES: readonly OofAudience[] = ['internal', 'externalKnown', 'externalUnknown'];

/** The Settings element that names each audience in an OofMessage. */
const AUDIENCE_TAGS = {
  internal: 'AppliesToInternal',
  externalKnown: 'AppliesToExternalKnown',
  externalUnknown: 'AppliesToExternalUnknown',
} as const satisfies Record<OofAudience, string>;

export type OofBodyType = 'Text' | 'HTML';

/** The reply for one audience, kept in the form the device set it. */
export interface OofReply {
  readonly enabled: boolean;
  readonly bodyType: OofBodyType;
  readonly text: string;
}

/** A user's out-of-office settings. `start`/`end` are kept only for the time-based state. */
export interface OofSettings {
  readonly state: OofStateValue;
  readonly start?: Date;
  readonly end?: Date;
  readonly messages: Readonly<Partial<Record<OofAudience, OofReply>>>;
}

/** What a user has before setting anything: off, no replies. */
export const DEFAULT_OOF: OofSettings = Object.freeze({
  state: OofState.Disabled,
  messages: Object.freeze({}),
});

/**
 * Where the Settings command keeps what has no home in the mailbox or device stores: each user's
 * out-of-office settings and each device's recovery password. Implementations must return what was last set
 * (a copy, not a live object); `MemorySettingsStore` is the in-memory implementation to copy.
 */
export interface SettingsStore {
  /** The user's out-of-office settings, or undefined if never set. */
  getOof(user: UserId): Promise<OofSettings | undefined>;
  /** Replaces the user's out-of-office settings as a whole. */
  setOof(user: UserId, settings: OofSettings): Promise<void>;
  /** The recovery password a device stored (DevicePassword Set), or undefined. */
  getRecoveryPassword(user: UserId, deviceId: string): Promise<string | undefined>;
  /** Stores a device's recovery password; `null` clears it. */
  setRecoveryPassword(user: UserId, deviceId: string, password: string | null): Promise<void>;
}

/** A `SettingsStore` in process memory (lost on restart): for tests, development and single-process servers. */
export class MemorySettingsStore implements SettingsStore {
  readonly #oof = new Map<UserId, OofSettings>();
  readonly #passwords = new Map<string, string>();

  async getOof(user: UserId): Promise<OofSettings | undefined> {
    const stored = this.#oof.get(user);
    return stored ? copyOof(stored) : undefined;
  }

  async setOof(user: UserId, settings: OofSettings): Promise<void> {
    this.#oof.set(user, copyOof(settings));
  }

  async getRecoveryPassword(user: UserId, deviceId: string): Promise<string | undefined> {
    return this.#passwords.get(JSON.stringify([user, deviceId]));
  }

  async setRecoveryPassword(user: UserId, deviceId: string, password: string | null): Promise<void> {
    const key = JSON.stringify([user, deviceId]);
    if (password === null) this.#passwords.delete(key);
    else this.#passwords.set(key, password);
  }
}

function copyOof(settings: OofSettings): OofSettings {
  const messages: Partial<Record<OofAudience, OofReply>> = {};
  for (const audience of OOF_AUDIENCES) {
    const reply = settings.messages[audience];
    if (reply) messages[audience] = { ...reply };
  }
  return {
    state: settings.state,
    ...(settings.start ? { start: new Date(settings.start) } : {}),
    ...(settings.end ? { end: new Date(settings.end) } : {}),
    messages,
  };
}

export interface SettingsCommandOptions {
  /** Out-of-office settings and recovery passwords. Default: a `MemorySettingsStore` of this handler. */
  readonly store?: SettingsStore;
}

/** The stores Settings needs: the mailbox for the user's addresses, devices (optional) for DeviceInformation. */
export interface SettingsServices {
  readonly mailbox: MailboxStore;
  /** Where DeviceInformation is recorded; without it DeviceInformation Set is answered (Status 1) and dropped. */
  readonly devices?: DeviceStore;
}

/** The DeviceInformation Set fields the device record keeps, as (Settings tag, device field). */
const DEVICE_INFORMATION_FIELDS = [
  ['Model', 'model'],
  ['IMEI', 'imei'],
  ['FriendlyName', 'friendlyName'],
  ['OS', 'os'],
  ['OSLanguage', 'osLanguage'],
  ['PhoneNumber', 'phoneNumber'],
  ['MobileOperator', 'mobileOperator'],
  ['UserAgent', 'userAgent'],
] as const;

/** The longest recovery password MS-ASCMD allows (2.2.3.132.3). */
const MAX_RECOVERY_PASSWORD = 255;

/** An MS-ASDTYPE dateTime: `2026-03-01T08:00:00.000Z` (milliseconds optional). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** A setting the request got wrong: answered with this status inside the setting's element. */
class SettingFailure extends Error {
  constructor(readonly status: number) {
    super(`setting status ${status}`);
  }
}

const protocolError = () => new SettingFailure(SettingsStatus.ProtocolError);

type SettingName =
  | 'Oof'
  | 'DevicePassword'
  | 'DeviceInformation'
  | 'UserInformation'
  | 'RightsManagementInformation';

/**
 * The Settings command (MS-ASCMD 2.2.1.18; 12.0 and later). Every setting in the request gets its own element
 * with a Status in the response, in request order, after the command's Status:
 *
 * - **Oof Get** (BodyType `Text` or `HTML`): state, the time window when time-based, and the reply of each of
 *   the three audiences converted to the asked body type. **Oof Set**: state, window (both StartTime and
 *   EndTime or neither; kept only for state 2), replies per audience (each OofMessage names exactly one
 *   audience); audiences the request leaves out keep their reply. Kept in `options.store`.
 * - **DeviceInformation Set**: model, IMEI, friendly name, OS, OS language, phone number, operator and user
 *   agent stored on the device record (`services.devices`, created if new); Status 1 either way.
 * - **UserInformation Get**: the user's SMTP addresses, primary first, then aliases; 14.1+ in the
 *   Accounts/Account form with UserDisplayName and PrimarySmtpAddress.
 * - **DevicePassword Set**: the recovery password (at most 255 characters; empty clears it) kept in
 *   `options.store` per device.
 * - **RightsManagementInformation Get** (14.1+): an empty template list (no rights management server here).
 *
 * Statuses: a setting without its operation (say UserInformation Set), with an unreadable value, with StartTime
 * and no EndTime, or state 2 without any window gets Status 2 in its element; a window that ends before it
 * starts gets 5. A body that is not Settings, an element that is not a setting of the negotiated version, or a
 * setting named twice gets the command Status 2 and nothing else.
 */
export function settingsCommand(
  services: SettingsServices,
  options: SettingsCommandOptions = {},
): EasCommandHandler {
  const store = options.store ?? new MemorySettingsStore();

  return async (context: EasCommandContext): Promise<EasCommandResult> => {
    const { body, head } = context;
    const version = head.protocolVersion;
    if (body?.name !== 'Settings' || body.namespace !== 'Settings') return commandError();
    const seen = new Set<string>();
    for (const setting of body.children) {
      if (!isSetting(setting, version) || seen.has(setting.name)) return commandError();
      seen.add(setting.name);
    }

    const answers: WbxmlElement[] = [];
    for (const setting of body.children) {
      const name = setting.name as SettingName;
      try {
        answers.push(await handle(name, setting, context));
      } catch (error) {
        if (!(error instanceof SettingFailure)) throw error;
        answers.push(ST[name](ST.Status(error.status)));
      }
    }
    return { kind: 'wbxml', body: ST.Settings(ST.Status(SettingsStatus.Success), ...answers) };
  };

  function handle(
    name: SettingName,
    setting: WbxmlElement,
    context: EasCommandContext,
  ): Promise<WbxmlElement> {
    switch (name) {
      case 'Oof':
        return oof(setting, context);
      case 'DeviceInformation':
        return deviceInformation(setting, context);
      case 'UserInformation':
        return userInformation(setting, context);
      case 'DevicePassword':
        return devicePassword(setting, context);
      case 'RightsManagementInformation':
        return rightsManagementInformation(setting);
    }
  }

  async function oof(setting: WbxmlElement, { identity }: EasCommandContext): Promise<WbxmlElement> {
    const operation = onlyOperation(setting, ['Get', 'Set']);
    const user = identity.userId;
    if (operation.name === 'Get') {
      const bodyType = readBodyType(operation.textOf('BodyType'));
      const current = (await store.getOof(user)) ?? DEFAULT_OOF;
      return ST.Oof(ST.Status(SettingsStatus.Success), ST.Get(renderOof(current, bodyType)));
    }
    const current = (await store.getOof(user)) ?? DEFAULT_OOF;
    await store.setOof(user, applyOofSet(current, operation));
    return ST.Oof(ST.Status(SettingsStatus.Success));
  }

  async function deviceInformation(setting: WbxmlElement, context: EasCommandContext): Promise<WbxmlElement> {
    const set = onlyOperation(setting, ['Set']);
    const details: Record<string, string> = {};
    for (const [tag, field] of DEVICE_INFORMATION_FIELDS) {
      const value = textValue(set, tag);
      if (value !== undefined && value !== '') details[field] = value;
    }
    if (services.devices) {
      const { head, identity } = context;
      const sighting: DeviceSighting = {
        user: identity.userId,
        deviceId: head.deviceId,
        deviceType: head.deviceType,
        protocolVersion: head.protocolVersion,
        ...details,
      };
      await services.devices.upsertDevice(sighting);
    }
    return ST.DeviceInformation(ST.Status(SettingsStatus.Success));
  }

  async function userInformation(setting: WbxmlElement, { identity, head }: EasCommandContext) {
    const get = onlyOperation(setting, ['Get']);
    if (get.children.length > 0) throw protocolError();
    const user = await services.mailbox.getUser(identity.userId);
    return ST.UserInformation(
      ST.Status(SettingsStatus.Success),
      ST.Get(renderUser(user, head.protocolVersion)),
    );
  }

  async function devicePassword(setting: WbxmlElement, { identity, head }: EasCommandContext) {
    const set = onlyOperation(setting, ['Set']);
    const password = textValue(set, 'Password');
    if (password === undefined || password.length > MAX_RECOVERY_PASSWORD) throw protocolError();
    await store.setRecoveryPassword(identity.userId, head.deviceId, password === '' ? null : password);
    return ST.DevicePassword(ST.Status(SettingsStatus.Success));
  }

  async function rightsManagementInformation(setting: WbxmlElement): Promise<WbxmlElement> {
    const get = onlyOperation(setting, ['Get']);
    if (get.children.length > 0) throw protocolError();
    return ST.RightsManagementInformation(
      ST.Status(SettingsStatus.Success),
      ST.Get(RM.RightsManagementTemplates()),
    );
  }
}

function commandError(): EasCommandResult {
  return { kind: 'wbxml', body: ST.Settings(ST.Status(SettingsStatus.ProtocolError)) };
}

/** Whether the element is a setting the negotiated version knows. */
function isSetting(element: WbxmlElement, version: ProtocolVersion): boolean {
  if (element.namespace !== 'Settings') return false;
  switch (element.name) {
    case 'Oof':
    case 'DevicePassword':
    case 'DeviceInformation':
    case 'UserInformation':
      return true;
    case 'RightsManagementInformation':
      return atLeast(version, '14.1');
    default:
      return false;
  }
}

/** The setting's one operation element, which must be one of `allowed` and the setting's only child. */
function onlyOperation(setting: WbxmlElement, allowed: readonly ('Get' | 'Set')[]): WbxmlElement {
  const [operation, ...rest] = setting.children;
  if (
    operation === undefined ||
    rest.length > 0 ||
    operation.namespace !== 'Settings' ||
    !(allowed as readonly string[]).includes(operation.name) ||
    (!Array.isArray(operation.content) && operation.text !== '')
  ) {
    throw protocolError();
  }
  return operation;
}

/** A text child of the Settings namespace; undefined when absent; protocol error when it holds elements or bytes. */
function textValue(parent: WbxmlElement, tag: string): string | undefined {
  const found = parent.child(`Settings:${tag}`);
  if (!found) return undefined;
  if (found.text === undefined) throw protocolError();
  return found.text;
}

function readBodyType(value: string | undefined): OofBodyType {
  const trimmed = value?.trim();
  if (trimmed === 'Text') return 'Text';
  if (trimmed?.toUpperCase() === 'HTML') return 'HTML';
  throw protocolError();
}

function readDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const date = new Date(trimmed);
  if (!DATE_TIME.test(trimmed) || Number.isNaN(date.getTime())) throw protocolError();
  return date;
}

function readFlag(value: string | undefined): boolean {
  const trimmed = value?.trim();
  if (trimmed === '1') return true;
  if (trimmed === '0') return false;
  throw protocolError();
}

/** The settings after an Oof Set; throws `SettingFailure` for what the request got wrong. */
function applyOofSet(current: OofSettings, set: WbxmlElement): OofSettings {
  for (const child of set.children) {
    if (child.namespace !== 'Settings') throw protocolError();
    if (!['OofState', 'StartTime', 'EndTime', 'OofMessage'].includes(child.name)) throw protocolError();
  }
  const stateText = textValue(set, 'OofState');
  let state = current.state;
  if (stateText !== undefined) {
    const trimmed = stateText.trim();
    if (trimmed !== '0' && trimmed !== '1' && trimmed !== '2') throw protocolError();
    state = Number(trimmed) as OofStateValue;
  }
  const start = readDate(textValue(set, 'StartTime'));
  const end = readDate(textValue(set, 'EndTime'));
  if ((start === undefined) !== (end === undefined)) throw protocolError();

  const messages: Partial<Record<OofAudience, OofReply>> = { ...current.messages };
  const named = new Set<OofAudience>();
  for (const message of set.all('Settings:OofMessage')) {
    const audiences = OOF_AUDIENCES.filter((audience) => message.has(`Settings:${AUDIENCE_TAGS[audience]}`));
    const [audience] = audiences;
    if (audience === undefined || audiences.length > 1 || named.has(audience)) throw protocolError();
    named.add(audience);
    const previous = current.messages[audience];
    const enabledText = textValue(message, 'Enabled');
    const text = textValue(message, 'ReplyMessage');
    const bodyTypeText = textValue(message, 'BodyType');
    messages[audience] = {
      enabled: enabledText === undefined ? (previous?.enabled ?? false) : readFlag(enabledText),
      bodyType: bodyTypeText === undefined ? (previous?.bodyType ?? 'Text') : readBodyType(bodyTypeText),
      text: text ?? previous?.text ?? '',
    };
  }

  if (state !== OofState.TimeBased) return { state, messages };
  const windowStart = start ?? current.start;
  const windowEnd = end ?? current.end;
  if (windowStart === undefined || windowEnd === undefined) throw protocolError();
  if (windowEnd.getTime() <= windowStart.getTime()) throw new SettingFailure(SettingsStatus.InvalidArguments);
  return { state, start: windowStart, end: windowEnd, messages };
}

/** The children of Oof Get in a response: state, window, then one OofMessage per audience. */
function renderOof(settings: OofSettings, bodyType: OofBodyType): WbxmlElement[] {
  const timed = settings.state === OofState.TimeBased && settings.start && settings.end;
  return [
    ST.OofState(settings.state),
    timed ? ST.StartTime(settings.start!.toISOString()) : null,
    timed ? ST.EndTime(settings.end!.toISOString()) : null,
    ...OOF_AUDIENCES.map((audience) => {
      const reply = settings.messages[audience];
      const text = reply ? convertOofBody(reply.text, reply.bodyType, bodyType) : '';
      return ST.OofMessage(
        ST[AUDIENCE_TAGS[audience]](),
        ST.Enabled(reply?.enabled ? 1 : 0),
        ST.ReplyMessage(text),
        ST.BodyType(bodyType),
      );
    }),
  ].filter((element): element is WbxmlElement => element !== null);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const HTML_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

/** A reply in the body type the device asked for: text is escaped into HTML; HTML loses its markup. */
export function convertOofBody(text: string, from: OofBodyType, to: OofBodyType): string {
  if (from === to) return text;
  if (to === 'HTML') {
    const escaped = text.replace(/[&<>"]/g, (character) => HTML_ESCAPES[character]!);
    return `<html><body>${escaped.replace(/\r?\n/g, '<br>')}</body></html>`;
  }
  return text
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6])\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (whole, entity: string) => {
      if (entity[0] === '#') {
        const code =
          entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : Number(entity.slice(1));
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return HTML_ENTITIES[entity.toLowerCase()] ?? whole;
    })
    .trim();
}

/** The user's addresses: primary first, then aliases, each once (case-insensitively). */
export function userSmtpAddresses(user: Pick<User, 'primarySmtpAddress' | 'aliases'>): string[] {
  const seen = new Set<string>();
  const addresses: string[] = [];
  for (const address of [user.primarySmtpAddress, ...user.aliases]) {
    const key = address.toLowerCase();
    if (address === '' || seen.has(key)) continue;
    seen.add(key);
    addresses.push(address);
  }
  return addresses;
}

/** UserInformation Get's content: the flat EmailAddresses (12.x, 14.0) or Accounts/Account (14.1+). */
function renderUser(user: User, version: ProtocolVersion): WbxmlElement {
  const addresses = userSmtpAddresses(user).map((address) => ST.SMTPAddress(address));
  if (!atLeast(version, '14.1')) return ST.EmailAddresses(addresses);
  return ST.Accounts(
    ST.Account(
      user.displayName ? ST.UserDisplayName(user.displayName) : null,
      ST.EmailAddresses(addresses, ST.PrimarySmtpAddress(user.primarySmtpAddress)),
    ),
  );
}
