import { decode, encode, type WbxmlElement } from '@easkit/wbxml';
import {
  EasAccessDeniedError,
  EasAuthError,
  EasHttpError,
  EasNetworkError,
  EasProtocolError,
  EasRedirectError,
  EasThrottledError,
} from './errors.js';
import { agentFetch } from './loadgen/agent-fetch.js';
import type { EasCommand } from './protocol.js';
import { base64Query, plainQuery, type QueryParameters } from './query.js';

export const WBXML_CONTENT_TYPE = 'application/vnd.ms-sync.wbxml';
export const MULTIPART_CONTENT_TYPE = 'application/vnd.ms-sync.multipart';

/** How the client proves who it is: Basic (MS-ASHTTP 2.2.1.1.2.1) or an OAuth bearer token. */
export type EasCredentials =
  | { username: string; password: string }
  | { bearer: string | (() => string | Promise<string>); username?: string };

/** The `fetch` the client calls: the global one, or any compatible function (a load generator's pool). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** What one request/response cost; given to `onExchange` for logs and load measurements. */
export interface ExchangeRecord {
  command: EasCommand | 'OPTIONS';
  /** HTTP status, or 0 when no answer arrived. */
  status: number;
  durationMs: number;
  bytesOut: number;
  bytesIn: number;
  error?: unknown;
}

export interface TransportOptions {
  /** The EAS endpoint, e.g. `https://mail.example.com/Microsoft-Server-ActiveSync`. */
  url: string;
  credentials: EasCredentials;
  /**
   * Default: a `node:http` keep-alive fetch shared by the clients of this process (no 300 s header limit), or
   * the global `fetch` when a `dispatcher` is given.
   */
  fetch?: FetchFunction;
  /**
   * Passed as `dispatcher` to every fetch: an undici `Agent` with its own keep-alive pool, so many clients can
   * share (or not share) connections.
   */
  dispatcher?: unknown;
  userAgent?: string;
  /** `plain` (default) or `base64` (12.1 and later only; older versions always use the plain form). */
  queryForm?: 'plain' | 'base64';
  /** LCID for the base64 form and Accept-Language. Default 0x0409. */
  locale?: number;
  /** Per request, in milliseconds; default 120 s. Ping and hanging Sync add their heartbeat to it. */
  timeoutMs?: number;
  onExchange?: (record: ExchangeRecord) => void;
}

export interface EasRequest {
  command: EasCommand;
  version: string;
  deviceId: string;
  deviceType: string;
  policyKey?: string;
  /** A WBXML document, raw bytes with `contentType` (the MIME forms of SendMail), or nothing. */
  body?: WbxmlElement | Uint8Array;
  contentType?: string;
  parameters?: QueryParameters;
  /** Added to the transport's timeout (the heartbeat of a Ping). */
  extraTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface EasResponse {
  status: number;
  headers: Headers;
  /** The decoded WBXML body, when there was one. */
  body?: WbxmlElement;
  /** The body bytes when they are not WBXML (GetAttachment). */
  bytes?: Uint8Array;
  contentType?: string;
  /** Multipart ItemOperations: the parts after the WBXML part 0, by index. */
  parts?: Uint8Array[];
}

export interface ServerOptions {
  versions: string[];
  commands: string[];
  /** `MS-Server-ActiveSync`, when sent. */
  serverVersion?: string;
}

/** Sends EAS requests over HTTP; one per client, no shared state. */
export class EasTransport {
  readonly url: string;
  readonly #options: TransportOptions;
  readonly #fetch: FetchFunction;
  readonly #cookies = new Map<string, string>();

  constructor(options: TransportOptions) {
    this.#options = options;
    this.url = options.url.replace(/\/+$/, '');
    // The global fetch (undici) gives up when response headers take over 300 s, which a Ping with a longer
    // heartbeat does by design; node:http has no such limit. A caller's own fetch or dispatcher is used as given.
    this.#fetch =
      options.fetch ??
      (options.dispatcher === undefined ? defaultFetch() : (input, init) => fetch(input, init));
  }

  /** The login name written in the query's User parameter. */
  get user(): string {
    const credentials = this.#options.credentials;
    return 'password' in credentials ? credentials.username : (credentials.username ?? '');
  }

  /** OPTIONS (MS-ASHTTP 2.2.3): the versions and commands the server offers. Needs valid credentials. */
  async options(identity: { deviceId: string; deviceType: string }): Promise<ServerOptions> {
    const query = plainQuery({ command: 'Sync', user: this.user, ...identity });
    const { response } = await this.#exchange('OPTIONS', `${this.url}?${query}`, {
      method: 'OPTIONS',
      headers: await this.#headers(),
    });
    this.#check(response);
    const list = (name: string) =>
      (response.headers.get(name) ?? '')
        .split(',')
        .map((value) => value.trim())
        .filter(Boolean);
    const serverVersion = response.headers.get('ms-server-activesync') ?? undefined;
    return {
      versions: list('ms-asprotocolversions'),
      commands: list('ms-asprotocolcommands'),
      ...(serverVersion ? { serverVersion } : {}),
    };
  }

  /**
   * Sends one command. Returns 2xx answers and 449 (the caller provisions); throws `EasAuthError` (401),
   * `EasAccessDeniedError` (403), `EasRedirectError` (451), `EasThrottledError` (503, 429) and `EasHttpError`
   * for the rest, `EasNetworkError` when no answer arrived.
   */
  async send(request: EasRequest): Promise<EasResponse> {
    const base64 = this.#options.queryForm === 'base64' && Number(request.version) >= 12.1;
    const identity = {
      command: request.command,
      user: this.user,
      deviceId: request.deviceId,
      deviceType: request.deviceType,
    };
    const query = base64
      ? base64Query(
          {
            ...identity,
            version: request.version,
            ...(request.policyKey !== undefined ? { policyKey: request.policyKey } : {}),
            locale: this.#options.locale ?? 0x0409,
          },
          request.parameters,
        )
      : plainQuery(identity, request.parameters);
    const headers = await this.#headers();
    if (!base64) {
      headers['MS-ASProtocolVersion'] = request.version;
      if (request.policyKey !== undefined) headers['X-MS-PolicyKey'] = request.policyKey;
      if (request.parameters?.acceptMultiPart) headers['MS-ASAcceptMultiPart'] = 'T';
    }
    let payload: Uint8Array | undefined;
    if (request.body instanceof Uint8Array) {
      payload = request.body;
      headers['Content-Type'] = request.contentType ?? 'message/rfc822';
    } else if (request.body) {
      payload = encode(request.body);
      headers['Content-Type'] = WBXML_CONTENT_TYPE;
    }
    const timeout = (this.#options.timeoutMs ?? 120_000) + (request.extraTimeoutMs ?? 0);
    const signals = [AbortSignal.timeout(timeout), ...(request.signal ? [request.signal] : [])];
    const { response, bytes } = await this.#exchange(
      request.command,
      `${this.url}?${query}`,
      {
        method: 'POST',
        headers,
        ...(payload ? { body: payload } : {}),
        signal: AbortSignal.any(signals),
      },
      payload?.length ?? 0,
    );
    if (response.status === 449) return { status: 449, headers: response.headers };
    this.#check(response);
    const contentType = response.headers.get('content-type') ?? undefined;
    const result: EasResponse = {
      status: response.status,
      headers: response.headers,
      ...(contentType ? { contentType } : {}),
    };
    if (bytes.length === 0) return result;
    const type = contentType?.split(';')[0]?.trim().toLowerCase();
    if (type === MULTIPART_CONTENT_TYPE) {
      const parts = splitMultipart(bytes);
      const [first, ...rest] = parts;
      return { ...result, ...(first ? { body: decodeBody(request.command, first) } : {}), parts: rest };
    }
    if (type === WBXML_CONTENT_TYPE || type === 'application/vnd.ms-sync' || looksLikeWbxml(bytes, type)) {
      return { ...result, body: decodeBody(request.command, bytes) };
    }
    return { ...result, bytes };
  }

  async #headers(): Promise<Record<string, string>> {
    const credentials = this.#options.credentials;
    const headers: Record<string, string> = {
      'User-Agent': this.#options.userAgent ?? 'easkit-client',
    };
    if ('password' in credentials) {
      headers.Authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    } else {
      const token =
        typeof credentials.bearer === 'function' ? await credentials.bearer() : credentials.bearer;
      headers.Authorization = `Bearer ${token}`;
    }
    if (this.#cookies.size > 0) {
      headers.Cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    return headers;
  }

  /** One HTTP exchange, the answer read whole; `onExchange` hears of it, failed or not. */
  async #exchange(
    command: EasCommand | 'OPTIONS',
    url: string,
    init: RequestInit,
    bytesOut = 0,
  ): Promise<{ response: Response; bytes: Uint8Array }> {
    const started = performance.now();
    const withDispatcher = this.#options.dispatcher
      ? ({ ...init, dispatcher: this.#options.dispatcher } as RequestInit)
      : init;
    let response: Response | undefined;
    try {
      response = await this.#fetch(url, withDispatcher);
      const bytes = new Uint8Array(await response.arrayBuffer());
      // 16.x clients must send the server's cookies back (MS-ASHTTP 2.2.1.1.2.2).
      for (const cookie of response.headers.getSetCookie?.() ?? []) {
        const [pair] = cookie.split(';');
        const index = pair?.indexOf('=') ?? -1;
        if (pair && index > 0) this.#cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
      }
      this.#options.onExchange?.({
        command,
        status: response.status,
        durationMs: performance.now() - started,
        bytesOut,
        bytesIn: bytes.length,
      });
      return { response, bytes };
    } catch (error) {
      this.#options.onExchange?.({
        command,
        status: response?.status ?? 0,
        durationMs: performance.now() - started,
        bytesOut,
        bytesIn: 0,
        error,
      });
      const what = response ? 'answer was cut off' : 'got no answer';
      throw new EasNetworkError(`${command} ${what}: ${describe(error)}`, error);
    }
  }

  #check(response: Response): void {
    const { status, headers } = response;
    if (status >= 200 && status < 300) return;
    const text = `HTTP ${status} ${response.statusText}`.trim();
    if (status === 401) throw new EasAuthError(status, `${text}: the credentials were refused`, headers);
    if (status === 403) throw new EasAccessDeniedError(status, `${text}: access denied`, headers);
    if (status === 451) {
      throw new EasRedirectError(status, text, headers, headers.get('x-ms-location') ?? undefined);
    }
    if (status === 503 || status === 429) {
      const retryAfter = Number(headers.get('retry-after'));
      throw new EasThrottledError(
        status,
        `${text}: the server is busy`,
        headers,
        Number.isFinite(retryAfter) && headers.has('retry-after') ? retryAfter : undefined,
        headers.get('x-ms-asthrottle') ?? undefined,
      );
    }
    throw new EasHttpError(status, text, headers);
  }
}

function decodeBody(command: string, bytes: Uint8Array): WbxmlElement {
  try {
    return decode(bytes);
  } catch (error) {
    throw new EasProtocolError(`the ${command} answer is not WBXML: ${describe(error)}`);
  }
}

function looksLikeWbxml(bytes: Uint8Array, type: string | undefined): boolean {
  return type === undefined && bytes[0] === 0x03 && bytes[1] === 0x01;
}

/** The multipart ItemOperations answer (MS-ASCMD 2.2.1.10): a count, (offset, length) pairs, then the parts, little-endian. */
export function splitMultipart(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new EasProtocolError('multipart answer shorter than its header');
  const count = view.getInt32(0, true);
  if (count < 1 || 4 + count * 8 > bytes.length)
    throw new EasProtocolError('multipart answer has a bad count');
  const parts: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const offset = view.getInt32(4 + index * 8, true);
    const length = view.getInt32(8 + index * 8, true);
    if (offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new EasProtocolError(`multipart part ${index} lies outside the answer`);
    }
    parts.push(bytes.subarray(offset, offset + length));
  }
  return parts;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

let sharedFetch: FetchFunction | undefined;
function defaultFetch(): FetchFunction {
  sharedFetch ??= agentFetch().fetch;
  return sharedFetch;
}
