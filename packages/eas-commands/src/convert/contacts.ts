import type { ItemConverter } from './types.js';

// Placeholder until the converter lands: every item is reported as unconvertible.
export const contactsConverter: ItemConverter<'Contacts'> = {
  class: 'Contacts',
  async toApplicationData() {
    throw new Error('the Contacts converter is not written yet');
  },
  fromApplicationData() {
    throw new Error('the Contacts converter is not written yet');
  },
  fieldOfTag() {
    return undefined;
  },
};
