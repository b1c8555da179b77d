import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../protocol.js';
import { intOf } from './items.js';
import { type DeviceInformation, deviceInformationElement } from './provision.js';

const { Settings: ST } = eas;

export type OofAudience = 'internal' | 'externalKnown' | 'externalUnknown';

export interface OofMessage {
  audience: OofAudience;
  enabled: boolean;
  reply?: string;
  bodyType?: 'Text' | 'HTML';
}

export interface OofSettings {
  /** 0 off, 1 on, 2 on between `startTime` and `endTime`. */
  state: 0 | 1 | 2;
  startTime?: string;
  endTime?: string;
  messages: OofMessage[];
}

/** Settings blocks to send in one request (MS-ASCMD 2.2.1.18); each is answered with its own Status. */
export interface SettingsRequest {
  /** Read the out-of-office settings with bodies of this type, or set them. */
  oof?: { get: 'Text' | 'HTML' } | { set: OofSettings };
  devicePassword?: string;
  deviceInformation?: DeviceInformation;
  userInformation?: boolean;
}

export interface SettingsResult {
  /** 1 success, 2 protocol error, 3 access denied, 4 server unavailable, 5 invalid arguments, ... */
  status: number;
  oof?: { status: number; settings?: OofSettings };
  devicePasswordStatus?: number;
  deviceInformationStatus?: number;
  userInformation?: {
    status: number;
    emailAddresses: string[];
    primarySmtpAddress?: string;
    displayName?: string;
  };
  raw?: WbxmlElement;
}

const AUDIENCE_TAGS = {
  internal: 'AppliesToInternal',
  externalKnown: 'AppliesToExternalKnown',
  externalUnknown: 'AppliesToExternalUnknown',
} as const;

export function settingsRequest(version: string, request: SettingsRequest): WbxmlElement {
  const oof = request.oof;
  return ST.Settings(
    oof &&
      ST.Oof(
        'get' in oof
          ? ST.Get(ST.BodyType(oof.get))
          : ST.Set(
              ST.OofState(oof.set.state),
              oof.set.startTime !== undefined && ST.StartTime(oof.set.startTime),
              oof.set.endTime !== undefined && ST.EndTime(oof.set.endTime),
              oof.set.messages.map((message) =>
                ST.OofMessage(
                  ST[AUDIENCE_TAGS[message.audience]](),
                  ST.Enabled(message.enabled ? 1 : 0),
                  message.reply !== undefined && ST.ReplyMessage(message.reply),
                  message.reply !== undefined && ST.BodyType(message.bodyType ?? 'Text'),
                ),
              ),
            ),
      ),
    request.devicePassword !== undefined && ST.DevicePassword(ST.Set(ST.Password(request.devicePassword))),
    request.deviceInformation && deviceInformationElement(request.deviceInformation),
    request.userInformation && atLeast(version, '12.0') && ST.UserInformation(ST.Get()),
  );
}

export function readSettings(body: WbxmlElement | undefined): SettingsResult {
  if (!body) return { status: 0 };
  const result: SettingsResult = { status: intOf(body, 'Settings:Status') ?? 0, raw: body };
  const oof = body.child('Settings:Oof');
  if (oof) {
    const get = oof.child('Settings:Get');
    result.oof = { status: intOf(oof, 'Settings:Status') ?? 0 };
    if (get) {
      const settings: OofSettings = {
        state: (intOf(get, 'Settings:OofState') ?? 0) as OofSettings['state'],
        messages: [],
      };
      const startTime = get.textOf('Settings:StartTime');
      if (startTime !== undefined) settings.startTime = startTime;
      const endTime = get.textOf('Settings:EndTime');
      if (endTime !== undefined) settings.endTime = endTime;
      for (const message of get.all('Settings:OofMessage')) {
        const audience = (Object.keys(AUDIENCE_TAGS) as OofAudience[]).find((key) =>
          message.has(`Settings:${AUDIENCE_TAGS[key]}`),
        );
        if (!audience) continue;
        const reply = message.textOf('Settings:ReplyMessage');
        const bodyType = message.textOf('Settings:BodyType');
        settings.messages.push({
          audience,
          enabled: message.textOf('Settings:Enabled') === '1',
          ...(reply !== undefined ? { reply } : {}),
          ...(bodyType === 'Text' || bodyType === 'HTML' ? { bodyType } : {}),
        });
      }
      result.oof.settings = settings;
    }
  }
  const devicePassword = body.child('Settings:DevicePassword');
  if (devicePassword) result.devicePasswordStatus = intOf(devicePassword, 'Settings:Status') ?? 0;
  const deviceInformation = body.child('Settings:DeviceInformation');
  if (deviceInformation) result.deviceInformationStatus = intOf(deviceInformation, 'Settings:Status') ?? 0;
  const userInformation = body.child('Settings:UserInformation');
  if (userInformation) {
    const get = userInformation.child('Settings:Get');
    const account = get?.child('Settings:Accounts')?.child('Settings:Account');
    const addresses = account?.child('Settings:EmailAddresses') ?? get?.child('Settings:EmailAddresses');
    const primarySmtpAddress = addresses?.textOf('Settings:PrimarySmtpAddress');
    const displayName = account?.textOf('Settings:UserDisplayName');
    result.userInformation = {
      status: intOf(userInformation, 'Settings:Status') ?? 0,
      emailAddresses: (addresses?.children ?? []).map((address) => address.text ?? '').filter(Boolean),
      ...(primarySmtpAddress !== undefined ? { primarySmtpAddress } : {}),
      ...(displayName !== undefined ? { displayName } : {}),
    };
  }
  return result;
}
