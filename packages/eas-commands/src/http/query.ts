import { commandByCode } from './commands.js';
import { EasHttpError } from './errors.js';
import { atLeast, type ProtocolVersion, versionFromByte } from './protocol-version.js';

/** Command parameters of the request URI (MS-ASHTTP 2.2.1.1.1.2.5 and the base64 tags of 2.2.1.1.1.1.3). */
export interface EasQueryParameters {
  readonly attachmentName?: string;
  readonly collectionId?: string;
  readonly itemId?: string;
  readonly longId?: string;
  readonly occurrence?: string;
  readonly parentId?: string;
  /** SaveInSent=T, or bit 0x01 of the base64 Options tag. */
  readonly saveInSent?: boolean;
  /** Bit 0x02 of the base64 Options tag (the plain form uses the MS-ASAcceptMultiPart header). */
  readonly acceptMultiPart?: boolean;
}

/** What the request URI says, in either form. */
export interface EasQuery {
  readonly form: 'plain' | 'base64';
  /** The `Cmd` value as sent (plain form) or the command name of the code (base64 form). */
  readonly command: string;
  /** The log-friendly user name of the URI; never used for authentication. */
  readonly user: string | undefined;
  readonly deviceId: string;
  readonly deviceType: string;
  /** Base64 form only: the protocol version carried in the URI. */
  readonly protocolVersion?: ProtocolVersion;
  /** Base64 form only: the policy key carried in the URI (absent when its length byte is 0). */
  readonly policyKey?: number;
  /** Base64 form only: the client's LCID. */
  readonly locale?: number;
  readonly parameters: EasQueryParameters;
}

const MAX_QUERY_LENGTH = 4096;
const MAX_DEVICE_ID_LENGTH = 128;

/**
 * Parses the query part of an EAS request URI (without the leading `?`). A query of `name=value` pairs is the
 * plain form; otherwise it is the base64 form (which may end in `=` padding). Throws `EasHttpError` 400 when it is neither.
 */
export function parseEasQuery(query: string): EasQuery {
  if (query.length > MAX_QUERY_LENGTH) throw new EasHttpError(400, 'query string too long');
  // Base64 queries may end in '=' padding, so only a key=value pair marks the plain form.
  const plain = query.includes('&') || /^[^=]+=[^=]/.test(query);
  return plain ? parsePlainQuery(query) : parseBase64Query(query);
}

function parsePlainQuery(query: string): EasQuery {
  const values = new Map<string, string>();
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    throw new EasHttpError(400, 'malformed query string');
  }
  for (const [name, value] of params) {
    const key = name.toLowerCase();
    if (!values.has(key)) values.set(key, value);
  }
  const command = values.get('cmd');
  const deviceId = values.get('deviceid');
  const deviceType = values.get('devicetype');
  if (!command) throw new EasHttpError(400, 'query has no Cmd');
  if (!deviceId) throw new EasHttpError(400, 'query has no DeviceId');
  if (!deviceType) throw new EasHttpError(400, 'query has no DeviceType');
  checkDeviceId(deviceId);
  const saveInSent = values.get('saveinsent');
  return {
    form: 'plain',
    command,
    user: values.get('user') || undefined,
    deviceId,
    deviceType,
    parameters: dropUndefined({
      attachmentName: values.get('attachmentname'),
      collectionId: values.get('collectionid'),
      itemId: values.get('itemid'),
      longId: values.get('longid'),
      occurrence: values.get('occurrence'),
      parentId: values.get('parentid'),
      saveInSent: saveInSent === undefined ? undefined : saveInSent.toUpperCase() === 'T',
    }),
  };
}

function parseBase64Query(query: string): EasQuery {
  let text = query;
  try {
    text = decodeURIComponent(query);
  } catch {
    throw new EasHttpError(400, 'malformed base64 query');
  }
  if (!/^[A-Za-z0-9+/\-_]+={0,2}$/.test(text))
    throw new EasHttpError(400, 'query is neither plain nor base64');
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  let pos = 0;
  const need = (count: number, what: string): void => {
    if (pos + count > bytes.length) throw new EasHttpError(400, `base64 query ends inside ${what}`);
  };
  need(4, 'the fixed fields');
  const versionByte = bytes[pos++]!;
  const protocolVersion = versionFromByte(versionByte);
  // MS-ASHTTP 2.2.1.1.1.1: only 12.1 and later use the base64 form.
  if (!protocolVersion || !atLeast(protocolVersion, '12.1')) {
    throw new EasHttpError(400, `protocol version byte ${versionByte} is not valid in a base64 query`);
  }
  const code = bytes[pos++]!;
  const locale = bytes.readUInt16LE(pos);
  pos += 2;
  need(1, 'the device id length');
  const deviceIdLength = bytes[pos++]!;
  if (deviceIdLength === 0) throw new EasHttpError(400, 'base64 query has an empty device id');
  need(deviceIdLength, 'the device id');
  const deviceId = deviceIdText(bytes.subarray(pos, pos + deviceIdLength));
  pos += deviceIdLength;
  need(1, 'the policy key length');
  const policyKeyLength = bytes[pos++]!;
  let policyKey: number | undefined;
  if (policyKeyLength === 4) {
    need(4, 'the policy key');
    policyKey = bytes.readUInt32LE(pos);
    pos += 4;
  } else if (policyKeyLength !== 0) {
    throw new EasHttpError(400, `policy key length ${policyKeyLength} is neither 0 nor 4`);
  }
  need(1, 'the device type length');
  const deviceTypeLength = bytes[pos++]!;
  need(deviceTypeLength, 'the device type');
  const deviceType = bytes.subarray(pos, pos + deviceTypeLength).toString('utf8');
  pos += deviceTypeLength;
  if (!deviceType) throw new EasHttpError(400, 'base64 query has an empty device type');

  const parameters: Record<string, string | boolean> = {};
  let user: string | undefined;
  while (pos < bytes.length) {
    need(2, 'a command parameter');
    const tag = bytes[pos++]!;
    const length = bytes[pos++]!;
    need(length, 'a command parameter value');
    const raw = bytes.subarray(pos, pos + length);
    pos += length;
    const value = raw.toString('utf8');
    switch (tag) {
      case 0:
        parameters.attachmentName = value;
        break;
      case 1:
        parameters.collectionId = value;
        break;
      case 3:
        parameters.itemId = value;
        break;
      case 4:
        parameters.longId = value;
        break;
      case 6:
        parameters.occurrence = value;
        break;
      case 7: {
        const flags = raw[0] ?? 0;
        parameters.saveInSent = (flags & 0x01) !== 0;
        parameters.acceptMultiPart = (flags & 0x02) !== 0;
        break;
      }
      case 8:
        user = value || undefined;
        break;
      default:
        // Tags 2 and 5 belonged to retired 2.x parameters; unknown tags are ignored like unknown headers.
        break;
    }
  }
  return {
    form: 'base64',
    command: commandByCode(code) ?? `#${code}`,
    user,
    deviceId,
    deviceType,
    protocolVersion,
    policyKey,
    locale,
    parameters,
  };
}

/** Device ids in the base64 form are raw bytes, often a binary GUID: printable ones read as text, others as hex. */
function deviceIdText(bytes: Buffer): string {
  for (const byte of bytes) if (byte < 0x21 || byte > 0x7e) return bytes.toString('hex').toUpperCase();
  return bytes.toString('latin1');
}

function checkDeviceId(deviceId: string): void {
  if (deviceId.length > MAX_DEVICE_ID_LENGTH) throw new EasHttpError(400, 'DeviceId too long');
  if (/[\s,;]/.test(deviceId)) throw new EasHttpError(400, 'DeviceId contains separators');
}

function dropUndefined<T extends Record<string, unknown>>(record: T): T {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}
