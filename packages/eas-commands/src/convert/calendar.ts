import type { ItemConverter } from './types.js';

// Placeholder until the converter lands: every item is reported as unconvertible.
export const calendarConverter: ItemConverter<'Calendar'> = {
  class: 'Calendar',
  async toApplicationData() {
    throw new Error('the Calendar converter is not written yet');
  },
  fromApplicationData() {
    throw new Error('the Calendar converter is not written yet');
  },
  fieldOfTag() {
    return undefined;
  },
};
