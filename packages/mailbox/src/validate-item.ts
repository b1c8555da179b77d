import { InvalidArgumentError } from './errors.js';
import type { EmailData } from './models/email.js';
import { ITEM_CLASSES, type ItemData } from './models/item.js';

function isDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function malformed(message: string): InvalidArgumentError {
  return new InvalidArgumentError('malformed', message);
}

/**
 * The few fields every item of a class must have, checked so that nothing malformed gets stored: what every
 * `MailboxStore` refuses with `InvalidArgumentError('malformed')` (the conformance suite checks it).
 */
export function validateItem(item: ItemData): void {
  if (!item || !ITEM_CLASSES.includes(item.class) || typeof item.data !== 'object' || item.data === null) {
    throw malformed('an item needs a known class and a data object');
  }
  const d = item.data;
  switch (item.class) {
    case 'Email': {
      const e = d as EmailData;
      if (!(e.mime instanceof Uint8Array)) throw malformed('Email.mime must be a Uint8Array');
      if (!isDate(e.dateReceived)) throw malformed('Email.dateReceived must be a valid Date');
      if (typeof e.read !== 'boolean') throw malformed('Email.read must be a boolean');
      if (typeof e.messageClass !== 'string') throw malformed('Email.messageClass must be a string');
      break;
    }
    case 'Calendar':
      if (!isDate(item.data.startTime) || !isDate(item.data.endTime)) {
        throw malformed('Calendar.startTime and endTime must be valid Dates');
      }
      break;
    case 'Tasks':
      if (typeof item.data.complete !== 'boolean') throw malformed('Tasks.complete must be a boolean');
      break;
    default:
      break;
  }
}
