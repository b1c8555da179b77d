import { NotFoundError } from '@easkit/mailbox';
import { EasHttpError } from '../http/errors.js';
import type { EasCommandHandler } from '../http/handler.js';
import { atLeast } from '../http/protocol-version.js';
import { readAttachmentContent } from './attachments.js';
import type { EasServices } from './services.js';

/**
 * GetAttachment (MS-ASCMD 2.2.1.8), protocol 2.5 to 12.1: `?Cmd=GetAttachment&AttachmentName=<FileReference>`
 * with no body (2.5 clients name the attachment by `email:AttName`, 12.x by `airsyncbase:FileReference`; this
 * server gives both the same value). The answer is the attachment's bytes with its own Content-Type. There is
 * no Status element: failures are HTTP statuses. 400 without AttachmentName; 500 for a reference that names no
 * attachment of this user, which is what the spec has servers answer for an attachment deleted meanwhile; 501
 * from 14.0 on, where the command no longer exists (ItemOperations Fetch replaces it).
 *
 * It reads through the same path as ItemOperations Fetch by FileReference ({@link readAttachmentContent}).
 */
export function getAttachmentCommand(services: Pick<EasServices, 'mailbox'>): EasCommandHandler {
  return async ({ identity, head }) => {
    if (atLeast(head.protocolVersion, '14.0')) {
      throw new EasHttpError(501, `GetAttachment does not exist in ${head.protocolVersion}`);
    }
    const reference = head.parameters.attachmentName;
    if (reference === undefined || reference === '') {
      throw new EasHttpError(400, 'GetAttachment needs AttachmentName');
    }
    try {
      const content = await readAttachmentContent(services.mailbox, identity.userId, reference);
      return { kind: 'raw', contentType: safeContentType(content.contentType), body: content.data };
    } catch (error) {
      if (error instanceof NotFoundError) throw new EasHttpError(500, 'no such attachment');
      throw error;
    }
  };
}

/** The attachment's MIME type as a header value; anything that could break the header becomes octet-stream. */
function safeContentType(type: string): string {
  const trimmed = type.trim();
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/.test(trimmed)
    ? trimmed
    : 'application/octet-stream';
}
