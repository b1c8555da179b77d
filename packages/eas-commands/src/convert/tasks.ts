import type { TaskData, TaskRecurrence } from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { parseClientBody, renderStoredBody } from './body.js';
import {
  type FieldSpec,
  keyOfTag,
  parseCategories,
  parseFields,
  parseRecurrence,
  parseScalar,
  type RecurrenceDialect,
  readingClientData,
  renderCategories,
  renderFields,
  renderRecurrenceChildren,
  renderScalar,
} from './fields.js';
import { type ItemConverter, MalformedItemError, type ParsedApplicationData } from './types.js';

type TaskKey = keyof TaskData & string;

/**
 * The scalar Tasks properties (MS-ASTASK 2.2.2), in the order the schema lists them. All dates use the
 * extended dateTime form; StartDate/DueDate are local wall-clock times kept in the Date's UTC fields.
 */
const TASK_FIELDS: readonly FieldSpec<TaskKey>[] = [
  { namespace: 'Tasks', tag: 'Subject', key: 'subject', kind: 'string' },
  { namespace: 'Tasks', tag: 'Importance', key: 'importance', kind: 'integer' },
  { namespace: 'Tasks', tag: 'UtcStartDate', key: 'utcStartDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'StartDate', key: 'startDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'UtcDueDate', key: 'utcDueDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'DueDate', key: 'dueDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'Complete', key: 'complete', kind: 'boolean' },
  { namespace: 'Tasks', tag: 'DateCompleted', key: 'dateCompleted', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'Sensitivity', key: 'sensitivity', kind: 'integer' },
  { namespace: 'Tasks', tag: 'ReminderTime', key: 'reminderTime', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'ReminderSet', key: 'reminderSet', kind: 'boolean' },
  // MS-ASWBXML gives both tokens from 12.0 on; they carry the sort keys of a flagged message turned task.
  { namespace: 'Tasks', tag: 'OrdinalDate', key: 'ordinalDate', kind: 'isoDate', since: '12.0' },
  { namespace: 'Tasks', tag: 'SubOrdinalDate', key: 'subOrdinalDate', kind: 'string', since: '12.0' },
];

const TASK_RECURRENCE: RecurrenceDialect = { namespace: 'Tasks', extensions: 'Tasks', dates: 'isoDate' };

function renderTaskRecurrence(recurrence: TaskRecurrence, version: Parameters<typeof renderFields>[2]) {
  const T = eas.Tasks;
  const [type, ...rest] = renderRecurrenceChildren(recurrence, TASK_RECURRENCE, version);
  return T.Recurrence(
    type,
    renderScalar('Tasks', 'Start', 'isoDate', recurrence.start),
    rest,
    renderScalar('Tasks', 'Regenerate', 'boolean', recurrence.regenerate),
    renderScalar('Tasks', 'DeadOccur', 'boolean', recurrence.deadOccur),
  );
}

/** Tasks (MS-ASTASK), every version: 2.5 bodies as `tasks:Body`, 12.0+ as `airsyncbase:Body`. */
export const tasksConverter: ItemConverter<'Tasks'> = {
  class: 'Tasks',

  async toApplicationData(item, context) {
    const data = item.data;
    const version = context.version;
    const scalars = renderFields(TASK_FIELDS, data, version);
    const body = await renderStoredBody('Tasks', data.body, context);
    const out: (WbxmlElement | null)[] = [
      ...body,
      ...scalars,
      renderCategories('Tasks', data.categories),
      data.recurrence ? renderTaskRecurrence(data.recurrence, version) : null,
    ];
    return out.filter((element): element is WbxmlElement => element !== null);
  },

  fromApplicationData(applicationData, _version): ParsedApplicationData<'Tasks'> {
    return readingClientData(() => {
      const data: Partial<TaskData> = {};
      const present = new Set<TaskKey>();
      parseFields(TASK_FIELDS, applicationData, data, present);
      if (present.has('complete') && data.complete === undefined) data.complete = false;
      const body = parseClientBody(applicationData, 'Tasks');
      if (body) {
        data.body = body;
        present.add('body');
      }
      const categories = parseCategories(applicationData, 'Tasks');
      if (categories) {
        data.categories = categories;
        present.add('categories');
      }
      const recurrenceElement = applicationData.child('Tasks:Recurrence');
      if (recurrenceElement) {
        present.add('recurrence');
        if (recurrenceElement.children.length > 0) {
          const recurrence: TaskRecurrence = parseRecurrence(recurrenceElement, TASK_RECURRENCE);
          const start = recurrenceElement.child('Tasks:Start');
          if (start) recurrence.start = parseScalar(start, 'isoDate') as Date | undefined;
          const regenerate = recurrenceElement.child('Tasks:Regenerate');
          if (regenerate) recurrence.regenerate = parseScalar(regenerate, 'boolean') as boolean | undefined;
          const deadOccur = recurrenceElement.child('Tasks:DeadOccur');
          if (deadOccur) recurrence.deadOccur = parseScalar(deadOccur, 'boolean') as boolean | undefined;
          for (const key of ['start', 'regenerate', 'deadOccur'] as const) {
            if (recurrence[key] === undefined) delete recurrence[key];
          }
          data.recurrence = recurrence;
        }
      }
      if (data.importance !== undefined && ![0, 1, 2].includes(data.importance)) {
        throw new MalformedItemError(`task importance ${data.importance} is not 0, 1 or 2`);
      }
      if (data.sensitivity !== undefined && ![0, 1, 2, 3].includes(data.sensitivity)) {
        throw new MalformedItemError(`task sensitivity ${data.sensitivity} is not 0-3`);
      }
      return { class: 'Tasks', data, present };
    });
  },

  fieldOfTag(namespace, name) {
    if ((namespace === 'AirSyncBase' || namespace === 'Tasks') && name === 'Body') return 'body';
    if (namespace === 'Tasks') {
      if (name === 'Categories' || name === 'Category') return 'categories';
      if (name === 'Recurrence') return 'recurrence';
    }
    return keyOfTag(TASK_FIELDS, namespace, name);
  },
};
