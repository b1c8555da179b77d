import type { FolderId, ItemId, Modseq } from '../ids.js';
import type { CalendarData } from './calendar.js';
import type { ContactData } from './contact.js';
import type { EmailData } from './email.js';
import type { NoteData } from './note.js';
import type { TaskData } from './task.js';

/** The EAS class names, as Sync's `Class` element spells them. */
export type ItemClass = 'Email' | 'Calendar' | 'Contacts' | 'Tasks' | 'Notes';

export const ITEM_CLASSES: readonly ItemClass[] = ['Email', 'Calendar', 'Contacts', 'Tasks', 'Notes'];

/** The data of each class, by class name. */
export interface ItemDataByClass {
  Email: EmailData;
  Calendar: CalendarData;
  Contacts: ContactData;
  Tasks: TaskData;
  Notes: NoteData;
}

/** An item's content, discriminated by `class`. */
export type ItemData = { [C in ItemClass]: { class: C; data: ItemDataByClass[C] } }[ItemClass];

/** An item as the store returns it. */
export type StoredItem = {
  [C in ItemClass]: { id: ItemId; folderId: FolderId; modseq: Modseq; class: C; data: ItemDataByClass[C] };
}[ItemClass];

/**
 * A recursive partial: plain objects may be given in part, everything else (arrays, bytes, dates) whole.
 * A key present with the value `undefined` removes that field.
 */
export type DeepPartial<T> = T extends Date | Uint8Array | readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | undefined }
    : T;

/** A partial update of an item; `class` must be the item's class. */
export type ItemPatch = { [C in ItemClass]: { class: C; data: DeepPartial<ItemDataByClass[C]> } }[ItemClass];
