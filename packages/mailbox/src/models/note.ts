import type { ClientOrigin, StoredBody } from './common.js';

/** A Notes item (MS-ASNOTE, 14.0+). */
export interface NoteData {
  /** Set by Sync for items a device added; see {@link ClientOrigin}. */
  clientOrigin?: ClientOrigin;
  subject?: string;
  body?: StoredBody;
  /** `IPM.StickyNote` unless the client says otherwise. */
  messageClass?: string;
  lastModifiedDate?: Date;
  categories?: string[];
}
