import { COMMAND_CODES, type EasCommand, versionByte } from './protocol.js';

/** Command parameters of the request URI (MS-ASHTTP 2.2.1.1.1.2.5). */
export interface QueryParameters {
  attachmentName?: string;
  collectionId?: string;
  itemId?: string;
  longId?: string;
  occurrence?: string;
  saveInSent?: boolean;
  /** ItemOperations: ask for the multipart answer (base64 Options bit 0x02; a header in the plain form). */
  acceptMultiPart?: boolean;
}

export interface QueryIdentity {
  command: EasCommand;
  user: string;
  deviceId: string;
  deviceType: string;
}

/** `Cmd=...&User=...&DeviceId=...&DeviceType=...` and the command parameters (MS-ASHTTP 2.2.1.1.1.2). */
export function plainQuery(identity: QueryIdentity, parameters: QueryParameters = {}): string {
  const pairs: [string, string][] = [
    ['Cmd', identity.command],
    ['User', identity.user],
    ['DeviceId', identity.deviceId],
    ['DeviceType', identity.deviceType],
  ];
  if (parameters.attachmentName !== undefined) pairs.push(['AttachmentName', parameters.attachmentName]);
  if (parameters.collectionId !== undefined) pairs.push(['CollectionId', parameters.collectionId]);
  if (parameters.itemId !== undefined) pairs.push(['ItemId', parameters.itemId]);
  if (parameters.longId !== undefined) pairs.push(['LongId', parameters.longId]);
  if (parameters.occurrence !== undefined) pairs.push(['Occurrence', parameters.occurrence]);
  if (parameters.saveInSent !== undefined) pairs.push(['SaveInSent', parameters.saveInSent ? 'T' : 'F']);
  return pairs.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&');
}

/**
 * The base64 form of MS-ASHTTP 2.2.1.1.1.1 (12.1 and later): version, command code, locale, device id,
 * policy key and device type in a byte string, then the parameters as tag-length-value triples.
 */
export function base64Query(
  identity: QueryIdentity & { version: string; policyKey?: string; locale?: number },
  parameters: QueryParameters = {},
): string {
  const bytes: number[] = [versionByte(identity.version), COMMAND_CODES[identity.command]];
  const locale = identity.locale ?? 0x0409;
  bytes.push(locale & 0xff, (locale >> 8) & 0xff);
  pushShort(bytes, Buffer.from(identity.deviceId, 'utf8'), 'DeviceId');
  const key = identity.policyKey === undefined ? 0 : Number(identity.policyKey);
  if (key > 0) {
    bytes.push(4, key & 0xff, (key >>> 8) & 0xff, (key >>> 16) & 0xff, (key >>> 24) & 0xff);
  } else {
    bytes.push(0);
  }
  pushShort(bytes, Buffer.from(identity.deviceType, 'utf8'), 'DeviceType');
  const parameter = (tag: number, value: string | undefined) => {
    if (value === undefined) return;
    bytes.push(tag);
    pushShort(bytes, Buffer.from(value, 'utf8'), `parameter ${tag}`);
  };
  parameter(0, parameters.attachmentName);
  parameter(1, parameters.collectionId);
  parameter(3, parameters.itemId);
  parameter(4, parameters.longId);
  parameter(6, parameters.occurrence);
  const options = (parameters.saveInSent ? 0x01 : 0) | (parameters.acceptMultiPart ? 0x02 : 0);
  if (options !== 0) bytes.push(7, 1, options);
  if (identity.user) parameter(8, identity.user);
  return Buffer.from(bytes).toString('base64');
}

function pushShort(bytes: number[], value: Buffer, what: string): void {
  if (value.length > 255) throw new RangeError(`${what} is longer than 255 bytes`);
  bytes.push(value.length, ...value);
}
