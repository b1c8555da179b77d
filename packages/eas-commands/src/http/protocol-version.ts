import { PROTOCOL_VERSIONS, type ProtocolVersion } from '@easkit/wbxml';

export { PROTOCOL_VERSIONS, type ProtocolVersion };

const known = new Set<string>(PROTOCOL_VERSIONS);

export function isProtocolVersion(value: string): value is ProtocolVersion {
  return known.has(value);
}

/** Orders versions: negative when a is older than b. */
export function compareVersions(a: ProtocolVersion, b: ProtocolVersion): number {
  return PROTOCOL_VERSIONS.indexOf(a) - PROTOCOL_VERSIONS.indexOf(b);
}

export function atLeast(version: ProtocolVersion, minimum: ProtocolVersion): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** The base64 query carries the version as one byte, the decimal version times ten (121 = 12.1). */
export function versionFromByte(byte: number): ProtocolVersion | undefined {
  const text = `${Math.floor(byte / 10)}.${byte % 10}`;
  return isProtocolVersion(text) ? text : undefined;
}

export function versionToByte(version: ProtocolVersion): number {
  return Math.round(Number(version) * 10);
}
