import {
  type CalendarData,
  type CalendarException,
  type EmailData,
  FolderType,
  type MailboxStore,
  type MeetingRequest,
  type StoredItem,
} from '@easkit/mailbox';
import {
  decodeEncodedWords,
  headerAddresses,
  headerValues,
  splitMessage,
} from '../commands/mail-submitter.js';
import {
  INVITATION_LIMITS,
  InvalidInvitationError,
  type Invitation,
  type InvitationEvent,
  instanceToException,
  invitationToCalendar,
  parseInvitation,
  toMeetingRequest,
} from './invitation.js';
import { type CalendarPartLimits, findCalendarPart } from './mime-parts.js';

/** What {@link deliverMeetingMail} did with a message. */
export type MeetingMailOutcome =
  /** No calendar part: filed as an ordinary message. */
  | 'not-a-meeting'
  /** A calendar part that could not be read: filed as an ordinary message, the calendar untouched. */
  | 'invalid'
  /** A new invitation: meeting request filed, calendar item created. */
  | 'request'
  /** A newer version of a known meeting: meeting request filed, calendar item updated. */
  | 'update'
  /** An older version than the calendar holds: filed as an outdated request (MeetingMessageType 4), no change. */
  | 'outdated'
  /** A cancellation: filed, the series marked cancelled or the occurrence removed. */
  | 'cancel'
  /** An attendee's answer to a meeting the user organizes: filed, the attendee's status updated. */
  | 'reply';

export interface MeetingMailResult {
  readonly outcome: MeetingMailOutcome;
  /** The message as filed in the Inbox. */
  readonly message: StoredItem;
  /** The calendar item created or changed, if any. */
  readonly calendarItemId?: string;
}

export interface MeetingMailOptions {
  /**
   * The message as the caller's own delivery already parsed it (addresses, subject, date, ...). When absent,
   * those fields are read from the MIME headers. `messageClass`, `contentClass` and `meetingRequest` are set
   * here for meeting messages.
   */
  readonly email?: EmailData;
  /** The folder to file into; default the user's Inbox. */
  readonly folderId?: string;
  readonly now?: Date;
  readonly limits?: CalendarPartLimits;
}

/**
 * Files a delivered message for one recipient, turning iCalendar invitations into meeting items: a REQUEST
 * becomes a meeting request (`IPM.Schedule.Meeting.Request` with a MeetingRequest element) and creates or
 * updates the Calendar item, a CANCEL becomes `IPM.Schedule.Meeting.Canceled` and marks the series cancelled
 * (MeetingStatus 7) or deletes the occurrence, and a REPLY/COUNTER to a meeting the user organizes updates
 * that attendee's status. Messages without a readable calendar are filed unchanged, so mail is never lost.
 *
 * SMTP and local delivery call this once per local recipient.
 */
export async function deliverMeetingMail(
  mailbox: MailboxStore,
  userId: string,
  mime: Uint8Array,
  options: MeetingMailOptions = {},
): Promise<MeetingMailResult> {
  const now = options.now ?? new Date();
  // Most mail holds no calendar: then the user and the folder list are only read when no folder was given.
  const part = findCalendarPart(mime, options.limits);
  const folders = part || options.folderId === undefined ? await mailbox.listFolders(userId) : [];
  const inboxId = options.folderId ?? folders.find((folder) => folder.type === FolderType.Inbox)?.id;
  if (!inboxId) throw new Error(`user ${userId} has no Inbox`);
  const calendarId = folders.find((folder) => folder.type === FolderType.Calendar)?.id;
  const base = options.email ?? emailFromMime(mime, now);
  const file = async (
    outcome: MeetingMailOutcome,
    extra: Partial<EmailData> = {},
    calendarItemId?: string,
  ) => {
    const message = await mailbox.createItem(userId, inboxId, {
      class: 'Email',
      data: { ...base, ...extra },
    });
    return { outcome, message, ...(calendarItemId ? { calendarItemId } : {}) };
  };

  if (!part) return file('not-a-meeting');
  const user = await mailbox.getUser(userId);
  const addresses = [user.primarySmtpAddress, ...user.aliases];
  let invitation: Invitation;
  try {
    invitation = parseInvitation(part.text, part.method);
  } catch (error) {
    if (error instanceof InvalidInvitationError) return file('invalid');
    throw error;
  }
  const event = invitation.master ?? invitation.instances[0];
  if (!event || !calendarId) return file('not-a-meeting');
  const own = new Set(addresses.map((entry) => entry.toLowerCase()));
  const userOrganizes = event.organizer !== undefined && own.has(event.organizer.address.toLowerCase());
  const existing = await findCalendarItemByUid(mailbox, userId, calendarId, invitation.uid);
  const calendarMessage = { contentClass: 'urn:content-classes:calendarmessage' };

  if (invitation.method === 'REQUEST' && !userOrganizes) {
    if (existing && (existing.data.sequence ?? 0) > event.sequence) {
      return file('outdated', {
        ...calendarMessage,
        messageClass: 'IPM.Schedule.Meeting.Request',
        meetingRequest: toMeetingRequest(event, { userAddresses: addresses, meetingMessageType: 4 }),
      });
    }
    const item = await applyRequest(mailbox, userId, calendarId, invitation, existing, addresses);
    const series = invitation.master ?? (existing ? seriesAsEvent(existing.data, event) : undefined);
    return file(
      existing ? 'update' : 'request',
      {
        ...calendarMessage,
        messageClass: 'IPM.Schedule.Meeting.Request',
        meetingRequest: toMeetingRequest(withKnownTimes(event, existing?.data), {
          ...(series ? { series } : {}),
          userAddresses: addresses,
          meetingMessageType: existing ? 2 : 1,
        }),
      },
      item.id,
    );
  }

  if (invitation.method === 'CANCEL' && !userOrganizes) {
    let changedId: string | undefined;
    if (existing && (existing.data.sequence ?? 0) <= event.sequence) {
      changedId = (await applyCancel(mailbox, userId, invitation, existing)).id;
    }
    return file(
      'cancel',
      {
        ...calendarMessage,
        messageClass: 'IPM.Schedule.Meeting.Canceled',
        meetingRequest: {
          ...toMeetingRequest(withKnownTimes(event, existing?.data), { userAddresses: addresses }),
          busyStatus: 0,
        },
      },
      changedId,
    );
  }

  if ((invitation.method === 'REPLY' || invitation.method === 'COUNTER') && existing) {
    const attendee = event.attendees[0];
    if (attendee && !own.has(attendee.email.toLowerCase())) {
      await applyReply(mailbox, userId, invitation.method, event, existing);
      const partstat = attendee.partstat ?? 'ACCEPTED';
      const messageClass =
        partstat === 'DECLINED'
          ? 'IPM.Schedule.Meeting.Resp.Neg'
          : partstat === 'TENTATIVE' || invitation.method === 'COUNTER'
            ? 'IPM.Schedule.Meeting.Resp.Tent'
            : 'IPM.Schedule.Meeting.Resp.Pos';
      const known = withKnownTimes(
        invitation.method === 'COUNTER' ? { ...event, start: new Date(0) } : event,
        existing.data,
      );
      const meetingRequest: MeetingRequest = toMeetingRequest(known, { userAddresses: addresses });
      if (invitation.method === 'COUNTER' && event.start.getTime() !== 0) {
        meetingRequest.proposedStartTime = event.start;
        meetingRequest.proposedEndTime = event.end;
      }
      return file('reply', { ...calendarMessage, messageClass, meetingRequest }, existing.id);
    }
  }
  return file('not-a-meeting');
}

/** A CANCEL or REPLY may omit DTSTART: take the times of the stored item then. */
function withKnownTimes(event: InvitationEvent, stored: CalendarData | undefined): InvitationEvent {
  if (event.start.getTime() !== 0 || !stored) return event;
  const exception = event.recurrenceId
    ? stored.exceptions?.find((entry) => entry.exceptionStartTime.getTime() === event.recurrenceId!.getTime())
    : undefined;
  if (event.recurrenceId) {
    const length = stored.endTime.getTime() - stored.startTime.getTime();
    return {
      ...event,
      start: exception?.startTime ?? event.recurrenceId,
      end: exception?.endTime ?? new Date(event.recurrenceId.getTime() + length),
    };
  }
  return { ...event, start: stored.startTime, end: stored.endTime };
}

function seriesAsEvent(stored: CalendarData, event: InvitationEvent): InvitationEvent {
  return {
    ...event,
    ...(stored.recurrence ? { recurrence: stored.recurrence } : {}),
    ...(stored.timeZone ? { timeZone: stored.timeZone } : {}),
  };
}

/** Keys of a received meeting that a newer REQUEST replaces entirely (absent in the new one = removed). */
const REPLACED_KEYS: readonly (keyof CalendarData)[] = [
  'timeZone',
  'allDayEvent',
  'startTime',
  'endTime',
  'dtStamp',
  'subject',
  'location',
  'body',
  'organizerName',
  'organizerEmail',
  'sequence',
  'busyStatus',
  'sensitivity',
  'reminder',
  'meetingStatus',
  'attendees',
  'recurrence',
  'exceptions',
  'responseRequested',
  'responseType',
  'appointmentReplyTime',
  'disallowNewTimeProposal',
];

async function applyRequest(
  mailbox: MailboxStore,
  userId: string,
  calendarId: string,
  invitation: Invitation,
  existing: (StoredItem & { class: 'Calendar' }) | undefined,
  addresses: readonly string[],
): Promise<StoredItem> {
  const master = invitation.master;
  if (master) {
    const data = invitationToCalendar(master, invitation.instances, addresses);
    if (!existing) return mailbox.createItem(userId, calendarId, { class: 'Calendar', data });
    // The same version again (a resend) keeps the user's answer; a new version asks for it again (RFC 5546).
    if ((existing.data.sequence ?? 0) === master.sequence && existing.data.responseType !== undefined) {
      data.responseType = existing.data.responseType;
      if (existing.data.busyStatus !== undefined) data.busyStatus = existing.data.busyStatus;
      if (existing.data.appointmentReplyTime) data.appointmentReplyTime = existing.data.appointmentReplyTime;
    }
    const patch: Record<string, unknown> = {};
    for (const key of REPLACED_KEYS) patch[key] = data[key];
    return mailbox.updateItem(userId, existing.id, {
      class: 'Calendar',
      data: patch as Partial<CalendarData>,
    });
  }
  // Only occurrences: overrides of a series the user already has, or a meeting of its own otherwise.
  if (existing?.data.recurrence) {
    const exceptions = mergeExceptions(
      existing.data.exceptions,
      invitation.instances.map((instance) => instanceToException(instance, existing.data)),
    );
    return mailbox.updateItem(userId, existing.id, { class: 'Calendar', data: { exceptions } });
  }
  const first = invitation.instances[0]!;
  const { recurrenceId: _dropped, ...single } = first;
  const data = invitationToCalendar(single, [], addresses);
  if (existing) {
    const patch: Record<string, unknown> = {};
    for (const key of REPLACED_KEYS) patch[key] = data[key];
    return mailbox.updateItem(userId, existing.id, {
      class: 'Calendar',
      data: patch as Partial<CalendarData>,
    });
  }
  return mailbox.createItem(userId, calendarId, { class: 'Calendar', data });
}

function mergeExceptions(
  current: readonly CalendarException[] | undefined,
  updates: readonly CalendarException[],
): CalendarException[] {
  const byStart = new Map<number, CalendarException>();
  for (const exception of current ?? []) byStart.set(exception.exceptionStartTime.getTime(), exception);
  for (const exception of updates) byStart.set(exception.exceptionStartTime.getTime(), exception);
  return [...byStart.values()].slice(0, INVITATION_LIMITS.maxExceptionDates);
}

async function applyCancel(
  mailbox: MailboxStore,
  userId: string,
  invitation: Invitation,
  existing: StoredItem & { class: 'Calendar' },
): Promise<StoredItem> {
  const sequence = Math.max(
    existing.data.sequence ?? 0,
    (invitation.master ?? invitation.instances[0])!.sequence,
  );
  if (invitation.master || !existing.data.recurrence) {
    // The whole meeting: kept, marked cancelled (MS-ASCAL MeetingStatus 7) and free, for the user to remove.
    return mailbox.updateItem(userId, existing.id, {
      class: 'Calendar',
      data: { meetingStatus: 7, busyStatus: 0, sequence },
    });
  }
  const exceptions = mergeExceptions(
    existing.data.exceptions,
    invitation.instances.map((instance) => ({ exceptionStartTime: instance.recurrenceId!, deleted: true })),
  );
  return mailbox.updateItem(userId, existing.id, { class: 'Calendar', data: { exceptions } });
}

async function applyReply(
  mailbox: MailboxStore,
  userId: string,
  method: string,
  event: InvitationEvent,
  existing: StoredItem & { class: 'Calendar' },
): Promise<void> {
  const answer = event.attendees[0]!;
  const status =
    answer.partstat === 'DECLINED'
      ? 4
      : answer.partstat === 'TENTATIVE'
        ? 2
        : answer.partstat === 'ACCEPTED'
          ? 3
          : 5;
  const proposal =
    method === 'COUNTER' && event.start.getTime() !== 0
      ? { proposedStartTime: event.start, proposedEndTime: event.end }
      : {};
  const update = (attendees: CalendarData['attendees']) => {
    const list = [...(attendees ?? existing.data.attendees ?? [])];
    const index = list.findIndex((entry) => entry.email.toLowerCase() === answer.email.toLowerCase());
    const entry = {
      ...(index >= 0 ? list[index]! : { email: answer.email, type: 1 as const }),
      status,
      ...proposal,
    } as const;
    if (index >= 0) list[index] = entry;
    else list.push(entry);
    return list;
  };
  if (event.recurrenceId && existing.data.recurrence) {
    const at = event.recurrenceId.getTime();
    const current = existing.data.exceptions?.find((entry) => entry.exceptionStartTime.getTime() === at);
    const exceptions = mergeExceptions(existing.data.exceptions, [
      { ...(current ?? { exceptionStartTime: event.recurrenceId }), attendees: update(current?.attendees) },
    ]);
    await mailbox.updateItem(userId, existing.id, { class: 'Calendar', data: { exceptions } });
    return;
  }
  await mailbox.updateItem(userId, existing.id, {
    class: 'Calendar',
    data: { attendees: update(existing.data.attendees) },
  });
}

/**
 * The Calendar item of the folder with this iCalendar UID. The mailbox contract has no index by UID, so this
 * reads the folder's items page by page (cost: the folder's size).
 */
export async function findCalendarItemByUid(
  mailbox: MailboxStore,
  userId: string,
  calendarFolderId: string,
  uid: string,
): Promise<(StoredItem & { class: 'Calendar' }) | undefined> {
  let since = 0;
  for (;;) {
    const page = await mailbox.changes(userId, calendarFolderId, since, 500);
    for (const change of page.changes) {
      if (change.kind === 'delete') continue;
      const item = change.item;
      if (item.class === 'Calendar' && item.data.uid === uid) {
        // The page holds the item as it was read; a later change of it is the same item, still current.
        return item as StoredItem & { class: 'Calendar' };
      }
    }
    if (!page.more) return undefined;
    since = page.nextModseq;
  }
}

/** The Email fields of a message read from its headers (for callers that pass only the MIME). */
export function emailFromMime(mime: Uint8Array, now: Date): EmailData {
  const data: EmailData = { mime, dateReceived: now, read: false, messageClass: 'IPM.Note' };
  let fields: ReturnType<typeof splitMessage>['fields'];
  try {
    fields = splitMessage(mime).fields;
  } catch {
    return data;
  }
  const toAddress = (entry: { name: string; address: string }) =>
    entry.name ? { name: entry.name, address: entry.address } : { address: entry.address };
  const from = headerAddresses(fields, 'From')[0];
  if (from) data.from = toAddress(from);
  const to = headerAddresses(fields, 'To').map(toAddress);
  if (to.length) {
    data.to = to;
    data.displayTo = to.map((entry) => entry.name ?? entry.address).join('; ');
  }
  const cc = headerAddresses(fields, 'Cc').map(toAddress);
  if (cc.length) data.cc = cc;
  const subject = headerValues(fields, 'Subject')[0];
  if (subject !== undefined) {
    data.subject = decodeEncodedWords(subject);
    data.threadTopic = data.subject.replace(
      /^((re|fw|fwd|accepted|declined|tentative|canceled|cancelled):\s*)+/i,
      '',
    );
  }
  return data;
}
