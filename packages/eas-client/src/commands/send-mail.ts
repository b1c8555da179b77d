import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { QueryParameters } from '../query.js';
import { intOf } from './items.js';

const { ComposeMail: CM } = eas;

export interface SendMailRequest {
  /** The whole RFC 5322 message. */
  mime: Uint8Array | string;
  /** Unique per message; a resend with the same id is not sent twice (14.0+). Default: a random id. */
  clientId?: string;
  saveInSentItems?: boolean;
}

/** The message being answered or forwarded: by folder and item, or by a Search result's LongId. */
export type SmartSource = { collectionId: string; serverId: string } | { longId: string };

export interface SmartMailRequest extends SendMailRequest {
  source: SmartSource;
  /** The occurrence of a recurring meeting (its start time). */
  instanceId?: string;
  /** The MIME is the whole message: the server adds nothing of the original (14.0+). */
  replaceMime?: boolean;
}

export interface SendMailResult {
  /** 1 when the server answered an empty body (success); otherwise its Status (MS-ASCMD 2.2.2). */
  status: number;
}

export type ComposeCommand = 'SendMail' | 'SmartReply' | 'SmartForward';

function mimeBytes(mime: Uint8Array | string): Uint8Array {
  return typeof mime === 'string' ? new TextEncoder().encode(mime) : mime;
}

/** The 14.0+ ComposeMail body (MS-ASCMD 2.2.1.17, 2.2.1.19, 2.2.1.20). */
export function composeRequest(
  command: ComposeCommand,
  request: SendMailRequest | SmartMailRequest,
  clientId: string,
): WbxmlElement {
  const smart = 'source' in request ? request : undefined;
  const source = smart?.source;
  const content = [
    CM.ClientId(clientId),
    source &&
      CM.Source(
        'longId' in source
          ? CM.LongId(source.longId)
          : [CM.FolderId(source.collectionId), CM.ItemId(source.serverId)],
        smart?.instanceId !== undefined && CM.InstanceId(smart.instanceId),
      ),
    request.saveInSentItems && CM.SaveInSentItems(),
    smart?.replaceMime && CM.ReplaceMime(),
    CM.Mime(mimeBytes(request.mime)),
  ];
  if (command === 'SendMail') return CM.SendMail(...content);
  return command === 'SmartReply' ? CM.SmartReply(...content) : CM.SmartForward(...content);
}

/** The 2.5-12.1 form: the MIME is the HTTP body, the rest goes in the query (MS-ASHTTP 2.2.1.1.1.2.5). */
export function legacyComposeRequest(request: SendMailRequest | SmartMailRequest): {
  body: Uint8Array;
  parameters: QueryParameters;
} {
  const parameters: QueryParameters = { saveInSent: request.saveInSentItems ?? false };
  if ('source' in request) {
    if ('longId' in request.source) parameters.longId = request.source.longId;
    else {
      parameters.collectionId = request.source.collectionId;
      parameters.itemId = request.source.serverId;
    }
    if (request.instanceId !== undefined) parameters.occurrence = request.instanceId;
  }
  return { body: mimeBytes(request.mime), parameters };
}

export function readSendMail(body: WbxmlElement | undefined): SendMailResult {
  return { status: body ? (intOf(body, 'Status') ?? 1) : 1 };
}
