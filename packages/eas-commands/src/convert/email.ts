import type {
  AttachmentInfo,
  EmailData,
  EmailFlag,
  FlagStatus,
  MeetingRequest,
  StoredBody,
} from '@easkit/mailbox';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { formatAddress, formatAddressList, parseAddressList } from './addresses.js';
import { contextReader, parseClientBody, renderBodyPart, renderEmailBody } from './body.js';
import {
  type FieldSpec,
  keyOfTag,
  parseCategories,
  parseFields,
  parseScalar,
  readingClientData,
  renderCategories,
  renderFields,
  renderRecurrenceChildren,
  renderScalar,
} from './fields.js';
import { renderLocation } from './location.js';
import { encodeTimeZone, UTC_TIME_ZONE } from './timezone.js';
import { type ItemConverter, MalformedItemError, type ParsedApplicationData } from './types.js';
import { atLeast } from './version.js';

type EmailKey = keyof EmailData & string;
type FlagKey = keyof EmailFlag & string;

const E = eas.Email;
const E2 = eas.Email2;
const ASB = eas.AirSyncBase;

/** Email scalars between the address lists and the body (MS-ASEMAIL 2.2.2). */
const HEADER_FIELDS: readonly FieldSpec<EmailKey>[] = [
  { namespace: 'Email', tag: 'DateReceived', key: 'dateReceived', kind: 'isoDate' },
  { namespace: 'Email', tag: 'DisplayTo', key: 'displayTo', kind: 'string' },
  { namespace: 'Email', tag: 'ThreadTopic', key: 'threadTopic', kind: 'string' },
  { namespace: 'Email', tag: 'Importance', key: 'importance', kind: 'integer' },
  { namespace: 'Email', tag: 'Read', key: 'read', kind: 'boolean' },
];

/** Email2 scalars (14.0+; AccountId 14.1+; IsDraft 16.0+). ConversationId/Index are OPAQUE and handled apart. */
const EMAIL2_FIELDS: readonly FieldSpec<EmailKey>[] = [
  { namespace: 'Email2', tag: 'UmCallerID', key: 'umCallerId', kind: 'string', since: '14.0' },
  { namespace: 'Email2', tag: 'UmUserNotes', key: 'umUserNotes', kind: 'string', since: '14.0' },
  { namespace: 'Email2', tag: 'LastVerbExecuted', key: 'lastVerbExecuted', kind: 'integer', since: '14.0' },
  {
    namespace: 'Email2',
    tag: 'LastVerbExecutionTime',
    key: 'lastVerbExecutionTime',
    kind: 'isoDate',
    since: '14.0',
  },
  { namespace: 'Email2', tag: 'ReceivedAsBcc', key: 'receivedAsBcc', kind: 'boolean', since: '14.0' },
  { namespace: 'Email2', tag: 'AccountId', key: 'accountId', kind: 'string', since: '14.1' },
  { namespace: 'Email2', tag: 'IsDraft', key: 'isDraft', kind: 'boolean', since: '16.0' },
];

/** The dated parts of `Flag` (12.0+, MS-ASEMAIL 2.2.2.34); the dates come from the Tasks page except CompleteTime. */
const FLAG_FIELDS: readonly FieldSpec<FlagKey>[] = [
  { namespace: 'Email', tag: 'FlagType', key: 'flagType', kind: 'string' },
  { namespace: 'Email', tag: 'CompleteTime', key: 'completeTime', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'DateCompleted', key: 'dateCompleted', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'StartDate', key: 'startDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'UtcStartDate', key: 'utcStartDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'DueDate', key: 'dueDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'UtcDueDate', key: 'utcDueDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'ReminderSet', key: 'reminderSet', kind: 'boolean' },
  { namespace: 'Tasks', tag: 'ReminderTime', key: 'reminderTime', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'OrdinalDate', key: 'ordinalDate', kind: 'isoDate' },
  { namespace: 'Tasks', tag: 'SubOrdinalDate', key: 'subOrdinalDate', kind: 'string' },
];

/** Scalars of `MeetingRequest` (MS-ASEMAIL 2.2.2.48), with the extended dateTime form throughout. */
type MeetingKey = keyof MeetingRequest & string;
const MEETING_FIELDS: readonly FieldSpec<MeetingKey>[] = [
  { namespace: 'Email', tag: 'AllDayEvent', key: 'allDayEvent', kind: 'boolean' },
  { namespace: 'Email', tag: 'StartTime', key: 'startTime', kind: 'isoDate' },
  { namespace: 'Email', tag: 'DtStamp', key: 'dtStamp', kind: 'isoDate' },
  { namespace: 'Email', tag: 'EndTime', key: 'endTime', kind: 'isoDate' },
  { namespace: 'Email', tag: 'InstanceType', key: 'instanceType', kind: 'integer' },
];
const MEETING_FIELDS_2: readonly FieldSpec<MeetingKey>[] = [
  { namespace: 'Email', tag: 'RecurrenceId', key: 'recurrenceId', kind: 'isoDate' },
  { namespace: 'Email', tag: 'Reminder', key: 'reminder', kind: 'integer' },
  { namespace: 'Email', tag: 'ResponseRequested', key: 'responseRequested', kind: 'boolean' },
];
const MEETING_FIELDS_3: readonly FieldSpec<MeetingKey>[] = [
  { namespace: 'Email', tag: 'Sensitivity', key: 'sensitivity', kind: 'integer' },
  { namespace: 'Email', tag: 'BusyStatus', key: 'busyStatus', kind: 'integer' },
];

function renderMeetingRequest(meeting: MeetingRequest, version: ProtocolVersion): WbxmlElement {
  const busy =
    meeting.busyStatus === 4 && !atLeast(version, '16.0') ? { ...meeting, busyStatus: 0 as const } : meeting;
  const dialect = { namespace: 'Email', extensions: 'Email2', dates: 'isoDate' } as const;
  return E.MeetingRequest(
    renderFields(MEETING_FIELDS, busy, version),
    renderLocation(meeting.location, 'Email', version),
    meeting.organizer ? E.Organizer(formatAddress(meeting.organizer)) : null,
    renderFields(MEETING_FIELDS_2, busy, version),
    meeting.recurrences?.length
      ? E.Recurrences(
          meeting.recurrences.map((recurrence) =>
            E.Recurrence(renderRecurrenceChildren(recurrence, dialect, version, true)),
          ),
        )
      : null,
    renderFields(MEETING_FIELDS_3, busy, version),
    E.TimeZone(encodeTimeZone(meeting.timeZone ?? UTC_TIME_ZONE)),
    // GlobalObjId up to 14.1, calendar:UID from 16.0 (MS-ASEMAIL 2.2.2.38, MS-ASCAL 2.2.2.46).
    atLeast(version, '16.0')
      ? renderScalar('Calendar', 'UID', 'string', meeting.uid)
      : renderScalar('Email', 'GlobalObjId', 'string', meeting.globalObjectId),
    atLeast(version, '14.0')
      ? renderScalar('Email', 'DisallowNewTimeProposal', 'boolean', meeting.disallowNewTimeProposal)
      : null,
    atLeast(version, '14.1')
      ? renderScalar('Email2', 'MeetingMessageType', 'integer', meeting.meetingMessageType)
      : null,
    // A counter-proposal's times (16.1, MS-ASCMD 2.2.3.140/141): MeetingResponse namespace, compact dates.
    ...(atLeast(version, '16.1') && meeting.proposedStartTime && meeting.proposedEndTime
      ? [
          renderScalar('MeetingResponse', 'ProposedStartTime', 'compactDate', meeting.proposedStartTime),
          renderScalar('MeetingResponse', 'ProposedEndTime', 'compactDate', meeting.proposedEndTime),
        ]
      : []),
  );
}

function renderAttachments(attachments: readonly AttachmentInfo[] | undefined, version: ProtocolVersion) {
  if (!attachments?.length) return null;
  if (!atLeast(version, '12.0')) {
    // 2.5 (MS-ASEMAIL 2.2.2.7): AttName is the handle GetAttachment takes, DisplayName the file name.
    return E.Attachments(
      attachments.map((attachment) =>
        E.Attachment(
          E.AttMethod(attachment.method),
          E.AttSize(attachment.estimatedDataSize),
          E.DisplayName(attachment.displayName),
          E.AttName(attachment.fileReference),
          attachment.contentId ? E.AttOId(attachment.contentId) : null,
        ),
      ),
    );
  }
  const voicemail = atLeast(version, '14.0');
  return ASB.Attachments(
    attachments.map((attachment) =>
      ASB.Attachment(
        ASB.DisplayName(attachment.displayName),
        ASB.FileReference(attachment.fileReference),
        ASB.Method(attachment.method),
        ASB.EstimatedDataSize(attachment.estimatedDataSize),
        renderScalar('AirSyncBase', 'ContentId', 'string', attachment.contentId),
        renderScalar('AirSyncBase', 'ContentLocation', 'string', attachment.contentLocation),
        attachment.isInline ? ASB.IsInline('1') : null,
        voicemail ? renderScalar('Email2', 'UmAttDuration', 'integer', attachment.umAttDuration) : null,
        voicemail ? renderScalar('Email2', 'UmAttOrder', 'integer', attachment.umAttOrder) : null,
      ),
    ),
  );
}

/** `Flag` (12.0+): empty when the message has none, so a device drops a flag cleared on the server. */
function renderFlag(flag: EmailFlag | undefined, version: ProtocolVersion): WbxmlElement {
  if (!flag) return E.Flag();
  return E.Flag(E.Status(flag.status), renderFields(FLAG_FIELDS, flag, version));
}

function parseFlag(element: WbxmlElement): EmailFlag | undefined {
  if (element.children.length === 0) return undefined;
  const status = element.child('Email:Status');
  const value = status ? (parseScalar(status, 'integer') as number | undefined) : undefined;
  // A flag with dates but no status is a client setting a follow-up flag.
  if (value === undefined) return readFlagFields(element, 2);
  if (value !== 0 && value !== 1 && value !== 2)
    throw new MalformedItemError(`flag status ${value} is not 0-2`);
  return readFlagFields(element, value);
}

function readFlagFields(element: WbxmlElement, status: FlagStatus): EmailFlag {
  const flag: Partial<EmailFlag> = {};
  parseFields(FLAG_FIELDS, element, flag, new Set());
  const result: EmailFlag = { status };
  for (const [key, value] of Object.entries(flag)) {
    if (value !== undefined) (result as unknown as Record<string, unknown>)[key] = value;
  }
  return result;
}

/**
 * Email (MS-ASEMAIL): headers as RFC 5322 address lists, the body per version (2.5 `Body`/`MIMEData`, 12.0+
 * `airsyncbase:Body`, MIME as bytes), attachments (2.5 `email:Attachments`, 12.0+ `airsyncbase:Attachments`),
 * `Flag` and `ContentClass` from 12.0, `Categories` and Email2 from 14.0, `IsDraft`/`Bcc` from 16.0.
 * From clients it reads what they may change: Read, Flag, Categories, and for 16.x drafts To, Cc, Bcc, Subject,
 * Importance and the body (returned as `draftBody`).
 */
export const emailConverter: ItemConverter<'Email'> = {
  class: 'Email',

  async toApplicationData(item, context) {
    const data = item.data;
    const version = context.version;
    const modern = atLeast(version, '12.0');
    const body = await renderEmailBody(data.messageClass, context, data.preview);
    const list = (key: 'to' | 'cc' | 'replyTo', build: (text: string) => WbxmlElement) =>
      data[key]?.length ? build(formatAddressList(data[key]!)) : null;
    const out: (WbxmlElement | null)[] = [
      list('to', E.To),
      list('cc', E.Cc),
      data.from ? E.From(formatAddress(data.from)) : null,
      renderScalar('Email', 'Subject', 'string', data.subject),
      list('replyTo', E.ReplyTo),
      ...renderFields(HEADER_FIELDS, data, version),
      renderAttachments(data.attachments, version),
      ...body.elements,
      await renderBodyPart(contextReader(context), context),
      E.MessageClass(data.messageClass),
      data.meetingRequest ? renderMeetingRequest(data.meetingRequest, version) : null,
      renderScalar('Email', 'InternetCPID', 'integer', data.internetCPID),
    ];
    if (modern) {
      out.push(renderFlag(data.flag, version));
      out.push(renderScalar('Email', 'ContentClass', 'string', data.contentClass));
      if (body.nativeType) out.push(ASB.NativeBodyType({ plain: 1, html: 2, rtf: 3 }[body.nativeType]));
    }
    if (atLeast(version, '14.0')) {
      out.push(renderCategories('Email', data.categories));
      out.push(data.conversationId ? E2.ConversationId(data.conversationId) : null);
      out.push(data.conversationIndex ? E2.ConversationIndex(data.conversationIndex) : null);
      out.push(...renderFields(EMAIL2_FIELDS, data, version));
      out.push(data.sender ? E2.Sender(formatAddress(data.sender)) : null);
    }
    if (atLeast(version, '16.0') && data.bcc?.length) out.push(E2.Bcc(formatAddressList(data.bcc)));
    return out.filter((element): element is WbxmlElement => element !== null);
  },

  fromApplicationData(applicationData, version): ParsedApplicationData<'Email'> {
    return readingClientData(() => {
      const data: Partial<EmailData> = {};
      const present = new Set<EmailKey>();
      const read = applicationData.child('Email:Read');
      if (read) {
        const value = parseScalar(read, 'boolean') as boolean | undefined;
        if (value !== undefined) {
          data.read = value;
          present.add('read');
        }
      }
      const flag = applicationData.child('Email:Flag');
      if (flag) {
        data.flag = parseFlag(flag);
        present.add('flag');
      }
      const categories = parseCategories(applicationData, 'Email');
      if (categories) {
        data.categories = categories;
        present.add('categories');
      }
      let draftBody: StoredBody | undefined;
      if (atLeast(version, '16.0')) {
        // Drafts (MS-ASEMAIL 3.1.5.3.x, 16.0+): the composing fields a client may send in Add and Change.
        for (const [tag, key] of [
          ['Email:To', 'to'],
          ['Email:Cc', 'cc'],
          ['Email2:Bcc', 'bcc'],
        ] as const) {
          const found = applicationData.child(tag);
          if (!found) continue;
          const addresses = parseAddressList(found.text ?? '');
          data[key] = addresses.length ? addresses : undefined;
          present.add(key);
        }
        for (const spec of [
          { namespace: 'Email', tag: 'Subject', key: 'subject', kind: 'string' },
          { namespace: 'Email', tag: 'Importance', key: 'importance', kind: 'integer' },
        ] as const) {
          const found = applicationData.child(`${spec.namespace}:${spec.tag}`);
          if (!found) continue;
          (data as Record<string, unknown>)[spec.key] = parseScalar(found, spec.kind);
          present.add(spec.key);
        }
        if (data.importance !== undefined && ![0, 1, 2].includes(data.importance)) {
          throw new MalformedItemError(`importance ${data.importance} is not 0-2`);
        }
        draftBody = parseClientBody(applicationData);
      }
      return { class: 'Email', data, present, ...(draftBody ? { draftBody } : {}) };
    });
  },

  fieldOfTag(namespace, name) {
    if (namespace === 'Email') {
      if (name === 'Categories' || name === 'Category') return 'categories';
      if (name === 'Flag') return 'flag';
      if (name === 'To') return 'to';
      if (name === 'Cc') return 'cc';
      if (name === 'Subject') return 'subject';
    }
    if (namespace === 'Email2' && name === 'Bcc') return 'bcc';
    return keyOfTag(HEADER_FIELDS, namespace, name) ?? keyOfTag(EMAIL2_FIELDS, namespace, name);
  },
};
