import type { NoteData } from '@easkit/mailbox';
import type { ProtocolVersion, WbxmlElement } from '@easkit/wbxml';
import { parseClientBody, renderStoredBody } from './body.js';
import {
  type FieldSpec,
  keyOfTag,
  parseCategories,
  parseFields,
  readingClientData,
  renderCategories,
  renderFields,
} from './fields.js';
import { type ItemConverter, MalformedItemError, type ParsedApplicationData } from './types.js';
import { atLeast } from './version.js';

type NoteKey = keyof NoteData & string;

/** The scalar Notes properties (MS-ASNOTE 2.2.2); the Notes class exists from 14.0 on. */
const NOTE_FIELDS: readonly FieldSpec<NoteKey>[] = [
  { namespace: 'Notes', tag: 'Subject', key: 'subject', kind: 'string' },
  { namespace: 'Notes', tag: 'MessageClass', key: 'messageClass', kind: 'string' },
  { namespace: 'Notes', tag: 'LastModifiedDate', key: 'lastModifiedDate', kind: 'isoDate' },
];

function requireNotesVersion(version: ProtocolVersion): void {
  if (!atLeast(version, '14.0'))
    throw new Error(`the Notes class needs protocol 14.0 or later, not ${version}`);
}

/** Notes (MS-ASNOTE): Subject, airsyncbase:Body, MessageClass, LastModifiedDate, Categories. 14.0+ only. */
export const notesConverter: ItemConverter<'Notes'> = {
  class: 'Notes',

  async toApplicationData(item, context) {
    requireNotesVersion(context.version);
    const data = item.data;
    const [subject, ...rest] = renderFields(NOTE_FIELDS, data, context.version);
    const out: (WbxmlElement | null | undefined)[] = [
      subject,
      ...(await renderStoredBody('Notes', data.body, context)),
      ...rest,
      renderCategories('Notes', data.categories),
    ];
    return out.filter((element): element is WbxmlElement => !!element);
  },

  fromApplicationData(applicationData, version): ParsedApplicationData<'Notes'> {
    if (!atLeast(version, '14.0')) throw new MalformedItemError(`no Notes class in protocol ${version}`);
    return readingClientData(() => {
      const data: Partial<NoteData> = {};
      const present = new Set<NoteKey>();
      parseFields(NOTE_FIELDS, applicationData, data, present);
      const body = parseClientBody(applicationData);
      if (body) {
        data.body = body;
        present.add('body');
      }
      const categories = parseCategories(applicationData, 'Notes');
      if (categories) {
        data.categories = categories;
        present.add('categories');
      }
      return { class: 'Notes', data, present };
    });
  },

  fieldOfTag(namespace, name) {
    if (namespace === 'AirSyncBase' && name === 'Body') return 'body';
    if (namespace === 'Notes' && (name === 'Categories' || name === 'Category')) return 'categories';
    return keyOfTag(NOTE_FIELDS, namespace, name);
  },
};
