import { commandByName, EAS_COMMANDS, type EasCommandName } from './commands.js';
import { EasHttpError } from './errors.js';
import { atLeast, compareVersions, isProtocolVersion, type ProtocolVersion } from './protocol-version.js';
import { type EasQuery, type EasQueryParameters, parseEasQuery } from './query.js';

/** The EAS endpoint path; clients send this casing, the match is case-insensitive (MS-ASHTTP 2.2.1.1.1). */
export const EAS_PATH = '/Microsoft-Server-ActiveSync';

/** A plain HTTP request as any framework can produce it. Header names are lower case. */
export interface EasHttpRequest {
  readonly method: string;
  /** Path and query, as in the request line: `/Microsoft-Server-ActiveSync?Cmd=Sync&...`. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Uint8Array;
  /** Aborted when the client's connection closes before the response is sent (ends waiting Ping/Sync). */
  readonly signal?: AbortSignal;
  /**
   * The application's own value for this request, handed to its authenticator untouched (e.g. the client's
   * address and what it learns about the request). Passing it along is cheaper than AsyncLocalStorage, which
   * slows every promise of the process on Node 20.
   */
  readonly context?: unknown;
}

/** A plain HTTP response. */
export interface EasHttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
}

/** What the server offers, used to validate requests and to answer OPTIONS. */
export interface EasServerOffer {
  readonly versions: readonly ProtocolVersion[];
  readonly commands: readonly EasCommandName[];
  /** The `MS-Server-ActiveSync` value; numeric-looking, since some clients parse it. */
  readonly serverVersion: string;
}

/** Everything about a POST request that is known before its body is decoded. */
export interface EasRequestHead {
  readonly command: EasCommandName;
  readonly protocolVersion: ProtocolVersion;
  readonly form: EasQuery['form'];
  /** The user named in the URI, for logs and the ownership check; authentication never trusts it. */
  readonly queryUser: string | undefined;
  readonly deviceId: string;
  readonly deviceType: string;
  readonly userAgent: string | undefined;
  /** X-MS-PolicyKey, or the key of the base64 query; undefined when the client sent none (or 0). */
  readonly policyKey: number | undefined;
  readonly locale: number | undefined;
  readonly acceptMultiPart: boolean;
  readonly acceptGzip: boolean;
  readonly contentType: string | undefined;
  readonly parameters: EasQueryParameters;
}

/** The versions in which a command exists. */
export function commandExistsIn(command: EasCommandName, version: ProtocolVersion): boolean {
  const entry = EAS_COMMANDS.find((candidate) => candidate.name === command)!;
  if (!atLeast(version, entry.since)) return false;
  return !('until' in entry) || compareVersions(version, entry.until) <= 0;
}

export function isEasPath(url: string): boolean {
  const question = url.indexOf('?');
  const path = question < 0 ? url : url.slice(0, question);
  return path.toLowerCase() === EAS_PATH.toLowerCase();
}

/** The headers that advertise what the server offers (OPTIONS, and a forced re-negotiation). */
export function offerHeaders(offer: EasServerOffer): Record<string, string> {
  return {
    'MS-Server-ActiveSync': offer.serverVersion,
    'MS-ASProtocolVersions': offer.versions.join(','),
    'MS-ASProtocolCommands': offer.commands.join(','),
  };
}

/** The answer to `OPTIONS /Microsoft-Server-ActiveSync` (MS-ASHTTP 2.2.4). */
export function optionsResponse(offer: EasServerOffer): EasHttpResponse {
  return {
    status: 200,
    headers: {
      Allow: 'OPTIONS,POST',
      Public: 'OPTIONS,POST',
      ...offerHeaders(offer),
      'Cache-Control': 'private',
    },
  };
}

/**
 * Reads the command, version, device and parameters of an EAS POST from its URI and headers. Throws
 * `EasHttpError`: 400 for a malformed query or version header, 400 (with the offered versions) for a version the
 * server does not offer, 501 for a command it does not implement or that does not exist in the version.
 */
export function readRequestHead(request: EasHttpRequest, offer: EasServerOffer): EasRequestHead {
  const question = request.url.indexOf('?');
  const query = parseEasQuery(question < 0 ? '' : request.url.slice(question + 1));
  const headers = request.headers;

  const headerVersion = headers['ms-asprotocolversion']?.trim();
  let protocolVersion: ProtocolVersion | undefined = query.protocolVersion;
  if (protocolVersion === undefined) {
    if (!headerVersion)
      throw new EasHttpError(400, 'MS-ASProtocolVersion header is required', offerHeaders(offer));
    if (!isProtocolVersion(headerVersion)) {
      throw new EasHttpError(400, `unknown protocol version ${headerVersion}`, offerHeaders(offer));
    }
    protocolVersion = headerVersion;
  }
  if (!offer.versions.includes(protocolVersion)) {
    throw new EasHttpError(400, `protocol version ${protocolVersion} is not offered`, offerHeaders(offer));
  }

  const command = commandByName(query.command);
  if (!command || !offer.commands.includes(command)) {
    throw new EasHttpError(501, `command ${query.command} is not implemented`, offerHeaders(offer));
  }
  if (!commandExistsIn(command, protocolVersion)) {
    throw new EasHttpError(
      501,
      `command ${command} does not exist in protocol ${protocolVersion}`,
      offerHeaders(offer),
    );
  }

  let policyKey = query.policyKey;
  const policyHeader = headers['x-ms-policykey']?.trim();
  if (policyKey === undefined && policyHeader) {
    if (!/^\d{1,10}$/.test(policyHeader) || Number(policyHeader) > 0xffffffff) {
      throw new EasHttpError(400, 'X-MS-PolicyKey is not an unsigned 32-bit number');
    }
    policyKey = Number(policyHeader);
  }

  const multiPartHeader = headers['ms-asacceptmultipart']?.trim().toUpperCase();
  return {
    command,
    protocolVersion,
    form: query.form,
    queryUser: query.user,
    deviceId: query.deviceId,
    deviceType: query.deviceType,
    userAgent: headers['user-agent'],
    policyKey: policyKey === 0 ? undefined : policyKey,
    locale: query.locale,
    acceptMultiPart: query.parameters.acceptMultiPart === true || multiPartHeader === 'T',
    acceptGzip: /\bgzip\b/i.test(headers['accept-encoding'] ?? ''),
    contentType: headers['content-type'],
    parameters: query.parameters,
  };
}
