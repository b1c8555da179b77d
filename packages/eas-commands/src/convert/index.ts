import type { ItemClass } from '@easkit/mailbox';
import { calendarConverter } from './calendar.js';
import { contactsConverter } from './contacts.js';
import { emailConverter } from './email.js';
import { notesConverter } from './notes.js';
import { tasksConverter } from './tasks.js';
import type { ItemConverter } from './types.js';

/** The converter of every EAS class, by class name. */
export const CONVERTERS: { readonly [C in ItemClass]: ItemConverter<C> } = Object.freeze({
  Email: emailConverter,
  Calendar: calendarConverter,
  Contacts: contactsConverter,
  Tasks: tasksConverter,
  Notes: notesConverter,
});

export { formatCompactDate, formatIsoDate, parseEasDate } from './dates.js';
export { decodeTimeZone, encodeTimeZone, TIME_ZONE_BLOB_SIZE, UTC_TIME_ZONE } from './timezone.js';
export * from './types.js';
export { calendarConverter, contactsConverter, emailConverter, notesConverter, tasksConverter };
