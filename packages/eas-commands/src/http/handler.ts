import { encode, PROTOCOL_VERSIONS, WbxmlElement, WbxmlError, type WbxmlLimits } from '@easkit/wbxml';
import { type EasAuthenticator, parseAuthorization } from './auth.js';
import { decodeRequestBody, InvalidWbxmlBodyError, WBXML_CONTENT_TYPE } from './body.js';
import type { EasCommandName } from './commands.js';
import { EasHttpError } from './errors.js';
import { type MailboxIdentity, queryUserMatches } from './identity.js';
import {
  createPolicyGate,
  GATE_ANSWERS,
  type PolicyGate,
  type PolicyGateOptions,
  refusalBody,
} from './policy-gate.js';
import { atLeast, type ProtocolVersion } from './protocol-version.js';
import {
  type EasHttpRequest,
  type EasHttpResponse,
  type EasRequestHead,
  type EasServerOffer,
  isEasPath,
  optionsResponse,
  readRequestHead,
} from './request.js';

/** What a command handler gets: who asks, what the URI and headers said, and the decoded body. */
export interface EasCommandContext {
  readonly identity: MailboxIdentity;
  readonly head: EasRequestHead;
  /** The decoded WBXML body, or undefined for an empty body or a body that is not WBXML (see `contentType`). */
  readonly body: WbxmlElement | undefined;
  /** The raw body: SendMail and friends before 14.0 carry MIME (`message/rfc822`), not WBXML. */
  readonly rawBody: Uint8Array;
  /** Aborted when the client has gone: long waits (Ping, hanging Sync) end early. */
  readonly signal?: AbortSignal;
}

/** What a command handler answers. */
/** What a command moved, for the device's statistics and the request log (Sync sets it). */
export interface EasCommandActivity {
  /** Items sent to the device (Add, Change, Delete, SoftDelete entries of the response). */
  readonly itemsSent?: number;
  /** Client changes received (Add, Change, Delete, Fetch entries of the request). */
  readonly itemsReceived?: number;
}

export type EasCommandResult =
  | {
      readonly kind: 'wbxml';
      readonly body: WbxmlElement;
      readonly headers?: Record<string, string>;
      readonly activity?: EasCommandActivity;
    }
  /** 200 with no body: e.g. a Sync with nothing to report, or SendMail that succeeded before 14.0. */
  | {
      readonly kind: 'empty';
      readonly headers?: Record<string, string>;
      readonly activity?: EasCommandActivity;
    }
  | {
      readonly kind: 'raw';
      readonly status?: number;
      readonly contentType: string;
      readonly body: Uint8Array;
      readonly headers?: Record<string, string>;
    };

export type EasCommandHandler = (context: EasCommandContext) => Promise<EasCommandResult>;

/** One line per request for the operator's log. */
export interface EasRequestLog {
  readonly method: string;
  readonly user: string | undefined;
  readonly deviceId: string | undefined;
  readonly deviceType: string | undefined;
  readonly command: EasCommandName | undefined;
  readonly protocolVersion: ProtocolVersion | undefined;
  readonly httpStatus: number;
  readonly durationMs: number;
  /** Why the request was refused or failed, when it was. */
  readonly reason?: string;
  /** For a body that was not WBXML: a hex excerpt around the bad byte. */
  readonly bodyExcerpt?: string;
  readonly error?: unknown;
  /** Request and response body sizes in bytes (after decompression of neither: as on the wire to the adapter). */
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  /** Items moved, for commands that report it (Sync). */
  readonly itemsSent?: number;
  readonly itemsReceived?: number;
}

export interface EasHandlerOptions {
  readonly authenticate: EasAuthenticator;
  /** The commands this server implements; only these are advertised and accepted. */
  readonly commands: Partial<Record<EasCommandName, EasCommandHandler>>;
  /** Offered protocol versions; default all of 2.5 to 16.1. */
  readonly versions?: readonly ProtocolVersion[];
  /** The `MS-Server-ActiveSync` header. Default '16.1'. */
  readonly serverVersion?: string;
  /** Realm of the Basic challenge. */
  readonly realm?: string;
  /** Limits for decoding request bodies; the @easkit/wbxml defaults otherwise. */
  readonly wbxmlLimits?: Partial<WbxmlLimits>;
  /**
   * Provisioning enforcement: with a `DeviceStore`, every request passes the policy gate (`policy-gate.ts`)
   * before its body is decoded. Without it, no device is checked. Pass a gate made with `createPolicyGate`
   * instead of options to keep a handle on it (for `interrupt`).
   */
  readonly policy?: PolicyGateOptions | PolicyGate;
  readonly onRequest?: (log: EasRequestLog) => void;
}

/**
 * The framework-agnostic EAS endpoint: authentication, the mailbox-ownership check, version and command
 * negotiation, body decoding and encoding around the command handlers. Mount it with `createNodeListener`
 * or any framework that can produce an `EasHttpRequest`.
 */
export function createEasHandler(
  options: EasHandlerOptions,
): (request: EasHttpRequest) => Promise<EasHttpResponse> {
  const offer: EasServerOffer = {
    versions: options.versions ?? PROTOCOL_VERSIONS,
    commands: (Object.keys(options.commands) as EasCommandName[]).filter((name) => options.commands[name]),
    serverVersion: options.serverVersion ?? '16.1',
  };
  const challenge = { 'WWW-Authenticate': `Basic realm="${options.realm ?? 'easkit'}"` };
  const common = { 'MS-Server-ActiveSync': offer.serverVersion, 'Cache-Control': 'private' };
  const gate = options.policy
    ? 'check' in options.policy
      ? options.policy
      : createPolicyGate(options.policy)
    : undefined;

  return async (request) => {
    const started = performance.now();
    let head: EasRequestHead | undefined;
    let identity: MailboxIdentity | undefined;
    let response: EasHttpResponse;
    let reason: string | undefined;
    let bodyExcerpt: string | undefined;
    let failure: unknown;
    let served: EasCommandActivity & { bytesIn?: number; bytesOut?: number } = {};
    try {
      response = await serve();
    } catch (error) {
      if (error instanceof EasHttpError) {
        reason = error.message;
        if (error instanceof InvalidWbxmlBodyError) bodyExcerpt = error.excerpt;
        response = { status: error.httpStatus, headers: { ...common, ...error.headers } };
      } else {
        failure = error;
        reason = 'internal error';
        response = { status: 500, headers: {} };
      }
    }
    options.onRequest?.({
      method: request.method,
      user: identity?.userId,
      deviceId: head?.deviceId,
      deviceType: head?.deviceType,
      command: head?.command,
      protocolVersion: head?.protocolVersion,
      httpStatus: response.status,
      durationMs: performance.now() - started,
      ...(reason === undefined ? {} : { reason }),
      ...(bodyExcerpt === undefined ? {} : { bodyExcerpt }),
      ...(failure === undefined ? {} : { error: failure }),
      ...served,
    });
    return response;

    async function serve(): Promise<EasHttpResponse> {
      if (!isEasPath(request.url)) throw new EasHttpError(404, 'not an ActiveSync endpoint');
      const method = request.method.toUpperCase();
      if (method !== 'POST' && method !== 'OPTIONS') {
        throw new EasHttpError(405, `method ${request.method} is not allowed`, { Allow: 'OPTIONS,POST' });
      }
      const credentials = parseAuthorization(request.headers.authorization);
      if (!credentials) throw new EasHttpError(401, 'authentication required', challenge);
      identity = await options.authenticate(credentials, request);
      if (!identity) throw new EasHttpError(401, 'wrong credentials', challenge);
      if (method === 'OPTIONS') {
        const answer = optionsResponse(offer);
        return { ...answer, headers: { ...common, ...answer.headers } };
      }

      head = readRequestHead(request, offer);
      if (!queryUserMatches(identity, head.queryUser)) {
        throw new EasHttpError(403, `user ${head.queryUser} is not the authenticated account`);
      }
      if (gate) {
        const outcome = await gate.check(identity, head);
        if (!outcome.pass) {
          const answer = GATE_ANSWERS[outcome.refusal];
          reason = `policy gate: ${outcome.refusal}`;
          // 14.0+ get the status in the command's own response; older versions (and GetAttachment) get HTTP.
          const refusal = atLeast(head.protocolVersion, '14.0')
            ? refusalBody(head.command, answer.status)
            : undefined;
          if (!refusal) throw new EasHttpError(answer.legacyHttpStatus, reason);
          return {
            status: 200,
            headers: { ...common, 'Content-Type': WBXML_CONTENT_TYPE },
            body: encode(refusal),
          };
        }
      }
      const tracked = gate?.track(identity.userId, head.deviceId, request.signal);
      try {
        return await run(identity, head, tracked?.signal ?? request.signal);
      } finally {
        tracked?.release();
      }
    }

    async function run(
      identity: MailboxIdentity,
      head: EasRequestHead,
      signal: AbortSignal | undefined,
    ): Promise<EasHttpResponse> {
      const isWbxml = head.contentType === undefined || head.contentType.toLowerCase().includes('wbxml');
      const body = isWbxml ? decodeRequestBody(request.body, options.wbxmlLimits) : undefined;
      const handler = options.commands[head.command]!;
      const result = await handler({
        identity,
        head,
        body,
        rawBody: request.body,
        ...(signal ? { signal } : {}),
      });
      const answered = toResponse(result);
      const activity = result.kind === 'raw' ? undefined : result.activity;
      const record = {
        bytesIn: request.body.length,
        bytesOut: answered.body?.length ?? 0,
        ...(activity?.itemsSent !== undefined ? { itemsSent: activity.itemsSent } : {}),
        ...(activity?.itemsReceived !== undefined ? { itemsReceived: activity.itemsReceived } : {}),
      };
      served = record;
      if (gate) await gate.record(head, identity, record);
      return answered;
    }

    function toResponse(result: EasCommandResult): EasHttpResponse {
      switch (result.kind) {
        case 'wbxml':
          return {
            status: 200,
            headers: { ...common, 'Content-Type': WBXML_CONTENT_TYPE, ...result.headers },
            body: encodeResponse(result.body),
          };
        case 'empty':
          return { status: 200, headers: { ...common, ...result.headers } };
        case 'raw':
          return {
            status: result.status ?? 200,
            headers: { ...common, 'Content-Type': result.contentType, ...result.headers },
            body: result.body,
          };
      }
    }
  };
}

/**
 * Encodes a response. WBXML strings cannot hold NUL (it ends an inline string), but stored data may (a header
 * of a delivered message, say): such characters become U+FFFD in the copy sent, rather than failing the whole
 * response. The tree is only walked in that rare case.
 */
function encodeResponse(body: WbxmlElement): Uint8Array {
  try {
    return encode(body);
  } catch (error) {
    if (!(error instanceof WbxmlError) || error.code !== 'nul-in-string') throw error;
    return encode(withoutNul(body));
  }
}

function withoutNul(element: WbxmlElement): WbxmlElement {
  const content = element.content;
  if (typeof content === 'string') {
    return content.includes('\u0000')
      ? new WbxmlElement(element.tag, content.replaceAll('\u0000', '\ufffd'))
      : element;
  }
  if (Array.isArray(content)) return new WbxmlElement(element.tag, content.map(withoutNul));
  return element;
}
