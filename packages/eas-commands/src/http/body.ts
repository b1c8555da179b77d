import { decode, isWbxmlError, type WbxmlElement, type WbxmlLimits } from '@easkit/wbxml';
import { EasHttpError } from './errors.js';

/** The WBXML content type of EAS requests and responses (MS-ASHTTP). */
export const WBXML_CONTENT_TYPE = 'application/vnd.ms-sync.wbxml';

/**
 * A short hex dump around `offset` for logs, so an operator can see what a device sent without the log
 * holding whole (possibly private) messages.
 */
export function hexExcerpt(bytes: Uint8Array, offset = 0, radius = 16): string {
  const start = Math.max(0, Math.min(offset, bytes.length) - radius);
  const end = Math.min(bytes.length, Math.max(offset, 0) + radius);
  const parts: string[] = [];
  for (let index = start; index < end; index++) {
    const hex = bytes[index]!.toString(16).padStart(2, '0');
    parts.push(index === offset ? `[${hex}]` : hex);
  }
  return `${start > 0 ? '… ' : ''}${parts.join(' ')}${end < bytes.length ? ' …' : ''}`;
}

/** A request body that is not valid WBXML: a 400, carrying what the log line needs. */
export class InvalidWbxmlBodyError extends EasHttpError {
  readonly excerpt: string;
  readonly offset: number;

  constructor(reason: string, offset: number, excerpt: string) {
    super(400, `request body is not valid WBXML: ${reason}`);
    this.offset = offset;
    this.excerpt = excerpt;
  }
}

/**
 * Decodes an EAS request body. An empty body is `undefined` (Sync in 12.1+ and Ping allow one; whether
 * the command does is the handler's call). Malformed WBXML throws `InvalidWbxmlBodyError`.
 */
export function decodeRequestBody(body: Uint8Array, limits?: Partial<WbxmlLimits>): WbxmlElement | undefined {
  if (body.length === 0) return undefined;
  try {
    return decode(body, limits);
  } catch (error) {
    if (isWbxmlError(error)) {
      throw new InvalidWbxmlBodyError(error.message, error.offset, hexExcerpt(body, error.offset));
    }
    throw error;
  }
}
