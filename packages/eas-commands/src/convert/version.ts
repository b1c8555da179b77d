import { PROTOCOL_VERSIONS, type ProtocolVersion } from '@easkit/wbxml';

/** True when `version` is `minimum` or later (`atLeast('14.1', '14.0')`). */
export function atLeast(version: ProtocolVersion, minimum: ProtocolVersion): boolean {
  return PROTOCOL_VERSIONS.indexOf(version) >= PROTOCOL_VERSIONS.indexOf(minimum);
}
