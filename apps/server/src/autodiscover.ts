import type { IncomingMessage } from 'node:http';
import type { EasAuthenticator, MailboxIdentity } from '@easkit/eas-commands';
import { parseAuthorization } from '@easkit/eas-commands';

/** What devices request and get: the mobilesync schemas of MS-ASCMD 2.2.1.1. */
const REQUEST_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006';
const RESPONSE_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const ENVELOPE_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';

export const AUTODISCOVER_XML_PATH = '/autodiscover/autodiscover.xml';
export const AUTODISCOVER_JSON_PATH = '/autodiscover/autodiscover.json';
/** Autodiscover request bodies are a few hundred bytes; anything far larger is refused unread. */
export const MAX_AUTODISCOVER_BODY_BYTES = 64 * 1024;

export interface AutodiscoverResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface AutodiscoverOptions {
  authenticate: EasAuthenticator;
  /** The EAS endpoint's URL for this request (`https://host/Microsoft-Server-ActiveSync`). */
  easUrl: (request: IncomingMessage) => string;
  /** The user's display name, when known. */
  displayName?: (identity: MailboxIdentity) => Promise<string | undefined>;
  realm?: string;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, hex: string) => safeCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#([0-9]{1,7});/g, (_, dec: string) => safeCodePoint(Number.parseInt(dec, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function safeCodePoint(code: number): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
}

/** The text of the first `<name>` element (any namespace prefix), or undefined. Input is size-bounded. */
function elementText(xml: string, name: string): string | undefined {
  const match = new RegExp(
    `<(?:[A-Za-z0-9_]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[A-Za-z0-9_]+:)?${name}\\s*>`,
  ).exec(xml);
  return match ? unescapeXml(match[1] as string).trim() : undefined;
}

function xmlResponse(status: number, body: string): AutodiscoverResponse {
  return { status, headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body };
}

/** The mobilesync error answer: 600 for a request we cannot read, 601 for a schema we do not provide. */
export function autodiscoverError(code: 600 | 601, message: string): AutodiscoverResponse {
  const time = new Date().toISOString().slice(11, 23);
  return xmlResponse(
    200,
    `<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="${ENVELOPE_SCHEMA}">\n` +
      `  <Response xmlns="${RESPONSE_SCHEMA}">\n` +
      `    <Error Time="${time}" Id="${Math.floor(Math.random() * 2 ** 31)}">\n` +
      `      <ErrorCode>${code}</ErrorCode>\n      <Message>${escapeXml(message)}</Message>\n      <DebugData />\n` +
      '    </Error>\n  </Response>\n</Autodiscover>\n',
  );
}

function settingsResponse(email: string, displayName: string | undefined, url: string): AutodiscoverResponse {
  const name = displayName ? `      <DisplayName>${escapeXml(displayName)}</DisplayName>\n` : '';
  return xmlResponse(
    200,
    `<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="${ENVELOPE_SCHEMA}">\n` +
      `  <Response xmlns="${RESPONSE_SCHEMA}">\n    <Culture>en:us</Culture>\n` +
      `    <User>\n${name}      <EMailAddress>${escapeXml(email)}</EMailAddress>\n    </User>\n` +
      '    <Action>\n      <Settings>\n        <Server>\n          <Type>MobileSync</Type>\n' +
      `          <Url>${escapeXml(url)}</Url>\n          <Name>${escapeXml(url)}</Name>\n` +
      '        </Server>\n      </Settings>\n    </Action>\n  </Response>\n</Autodiscover>\n',
  );
}

/**
 * The POX Autodiscover of MS-ASCMD 2.2.1.1 (`POST /autodiscover/autodiscover.xml`, any letter case): after Basic
 * authentication, the EAS URL for the authenticated user. An empty body (some Android clients send one) is
 * answered for the authenticated user; a request for another schema (Outlook's) gets error 601, an unreadable
 * one 600. The settings are always the authenticated user's own, whatever address the request names, so the
 * endpoint tells nobody anything about other accounts.
 */
export async function autodiscoverXml(
  request: IncomingMessage,
  body: string,
  options: AutodiscoverOptions,
): Promise<AutodiscoverResponse> {
  const credentials = parseAuthorization(request.headers.authorization);
  const identity = credentials ? await options.authenticate(credentials) : undefined;
  if (!identity) {
    return {
      status: 401,
      headers: {
        'WWW-Authenticate': `Basic realm="${options.realm ?? 'easkit'}"`,
        'Content-Type': 'text/plain',
      },
      body: 'authentication required\n',
    };
  }
  if (request.method !== 'POST') return autodiscoverError(600, 'Invalid Request');
  const trimmed = body.trim();
  if (trimmed !== '') {
    if (
      !trimmed.includes('<Autodiscover') ||
      !trimmed.includes('<Request') ||
      !trimmed.includes(REQUEST_SCHEMA.slice(0, 40))
    ) {
      // Not the mobilesync request: either garbage or another product's request schema.
      if (/<Autodiscover[\s>]/.test(trimmed) && /AcceptableResponseSchema/.test(trimmed)) {
        return autodiscoverError(601, 'Provider is not available for the requested schema');
      }
      return autodiscoverError(600, 'Invalid Request');
    }
    const schema = elementText(trimmed, 'AcceptableResponseSchema');
    if (schema === undefined) return autodiscoverError(600, 'Invalid Request');
    if (schema !== RESPONSE_SCHEMA) {
      return autodiscoverError(601, 'Provider is not available for the requested schema');
    }
  }
  const primary = identity.addresses[0] ?? identity.userId;
  const displayName = await options.displayName?.(identity);
  return settingsResponse(primary, displayName, options.easUrl(request));
}

/**
 * The JSON Autodiscover v2 that Outlook mobile and newer clients try first:
 * `GET /autodiscover/autodiscover.json?Email=a@b&Protocol=ActiveSync` or `/autodiscover/autodiscover.json/v1.0/a@b?Protocol=ActiveSync`.
 * It needs no authentication and answers the same URL for every address, so it reveals nothing about accounts.
 */
export function autodiscoverJson(
  request: IncomingMessage,
  path: string,
  query: URLSearchParams,
  easUrl: string,
): AutodiscoverResponse {
  const json = (status: number, value: unknown): AutodiscoverResponse => ({
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: `${JSON.stringify(value)}\n`,
  });
  if (request.method !== 'GET') return json(405, { ErrorCode: 'MethodNotAllowed', ErrorMessage: 'use GET' });
  const protocol = [...query.entries()].find(([key]) => key.toLowerCase() === 'protocol')?.[1];
  const emailFromQuery = [...query.entries()].find(([key]) => key.toLowerCase() === 'email')?.[1];
  const emailFromPath = /\/v1\.0\/([^/]+)$/i.exec(path)?.[1];
  const email = emailFromQuery ?? (emailFromPath ? decodePathPart(emailFromPath) : undefined);
  if (!email || !/^[^@\s]+@[^@\s]+$/.test(email)) {
    return json(400, { ErrorCode: 'InvalidUser', ErrorMessage: 'an Email address is required' });
  }
  if (protocol?.toLowerCase() !== 'activesync') {
    return json(400, {
      ErrorCode: 'InvalidProtocol',
      ErrorMessage: `the protocol ${protocol ?? '(none)'} is not offered; only ActiveSync is`,
    });
  }
  return json(200, { Protocol: 'ActiveSync', Url: easUrl });
}

function decodePathPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
