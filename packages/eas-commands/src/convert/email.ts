import type { ItemConverter } from './types.js';

// Placeholder until the converter lands: every item is reported as unconvertible.
export const emailConverter: ItemConverter<'Email'> = {
  class: 'Email',
  async toApplicationData() {
    throw new Error('the Email converter is not written yet');
  },
  fromApplicationData() {
    throw new Error('the Email converter is not written yet');
  },
  fieldOfTag() {
    return undefined;
  },
};
