import type { StoredBody } from './common.js';

/** A Notes item (MS-ASNOTE, 14.0+). */
export interface NoteData {
  subject?: string;
  body?: StoredBody;
  /** `IPM.StickyNote` unless the client says otherwise. */
  messageClass?: string;
  lastModifiedDate?: Date;
  categories?: string[];
}
