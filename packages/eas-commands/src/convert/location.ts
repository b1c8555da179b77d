import type { Location } from '@easkit/mailbox';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { parseScalar, renderScalar } from './fields.js';
import { atLeast } from './version.js';

/** The children of `airsyncbase:Location` (MS-ASAIRS 2.2.2.27) and the model key of each. */
const LOCATION_PARTS: readonly [keyof Location, string, 'string' | 'double'][] = [
  ['displayName', 'DisplayName', 'string'],
  ['annotation', 'Annotation', 'string'],
  ['street', 'Street', 'string'],
  ['city', 'City', 'string'],
  ['state', 'State', 'string'],
  ['country', 'Country', 'string'],
  ['postalCode', 'PostalCode', 'string'],
  ['latitude', 'Latitude', 'double'],
  ['longitude', 'Longitude', 'double'],
  ['accuracy', 'Accuracy', 'double'],
  ['altitude', 'Altitude', 'double'],
  ['altitudeAccuracy', 'AltitudeAccuracy', 'double'],
  ['locationUri', 'LocationUri', 'string'],
];

/**
 * A location as the version carries it: before 16.0 the class's own `Location` string (the display name only);
 * from 16.0 the `airsyncbase:Location` container, which 16.x clients must get instead (MS-ASAIRS 2.2.2.27).
 */
export function renderLocation(
  location: Location | undefined,
  namespace: 'Calendar' | 'Email',
  version: ProtocolVersion,
): WbxmlElement | null {
  if (!location) return null;
  if (!atLeast(version, '16.0')) {
    return location.displayName === undefined
      ? null
      : renderScalar(namespace, 'Location', 'string', location.displayName);
  }
  const parts: WbxmlElement[] = [];
  for (const [key, tag] of LOCATION_PARTS) {
    const value = location[key];
    if (value !== undefined) parts.push(renderScalar('AirSyncBase', tag, 'string', value)!);
  }
  return eas.AirSyncBase.Location(parts);
}

/**
 * Reads either form: `airsyncbase:Location` or the class's `Location` string (`{ displayName }`). Undefined when
 * absent; `null` when present but empty (the client cleared it).
 */
export function parseLocation(
  parent: WbxmlElement,
  namespace: 'Calendar' | 'Email',
): Location | null | undefined {
  const container = parent.child('AirSyncBase:Location');
  if (container) {
    const location: Location = {};
    for (const [key, tag, kind] of LOCATION_PARTS) {
      const found = container.child(`AirSyncBase:${tag}`);
      if (!found) continue;
      if (kind === 'double') {
        const text = (found.text ?? '').trim();
        if (text === '') continue;
        const value = Number(text);
        if (!Number.isFinite(value)) throw new RangeError(`location ${tag} is not a number: ${text}`);
        (location as Record<string, unknown>)[key] = value;
      } else {
        const value = parseScalar(found, 'string');
        if (value !== undefined) (location as Record<string, unknown>)[key] = value;
      }
    }
    return Object.keys(location).length ? location : null;
  }
  const plain = parent.child(`${namespace}:Location`);
  if (!plain) return undefined;
  const text = parseScalar(plain, 'string') as string | undefined;
  return text === undefined ? null : { displayName: text };
}
