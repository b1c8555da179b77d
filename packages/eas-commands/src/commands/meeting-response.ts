import { randomBytes } from 'node:crypto';
import {
  type CalendarData,
  type CalendarException,
  type EmailAddress,
  FolderType,
  type MailboxStore,
  NotFoundError,
  type StoredItem,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { findCalendarItemByUid } from '../calendar/delivery.js';
import { buildReply, findOwnAttendee, seriesOccursAt, uidOfGlobalObjectId } from '../calendar/invitation.js';
import { parseEasDate } from '../convert/dates.js';
import { EasHttpError } from '../http/errors.js';
import type { EasCommandHandler } from '../http/handler.js';
import { atLeast } from '../http/protocol-version.js';
import type { MailSubmitter } from './mail-submitter.js';

const { MeetingResponse: MR } = eas;

/**
 * MeetingResponse `Status` values (MS-ASCMD 2.2.3.177.9), and the common statuses (2.2.2) the command uses
 * for a malformed InstanceId and for an InstanceId on a meeting that does not recur.
 */
export const MeetingResponseStatus = {
  Success: 1,
  InvalidMeetingRequest: 2,
  MailboxError: 3,
  ServerError: 4,
  InvalidRequest: 104,
  NotRecurring: 146,
} as const;
export type MeetingResponseStatus = (typeof MeetingResponseStatus)[keyof typeof MeetingResponseStatus];

export interface MeetingResponseServices {
  readonly mailbox: MailboxStore;
  /** Where REPLY messages to organizers go; without it the calendar is updated and nothing is sent. */
  readonly submitter?: MailSubmitter;
}

export interface MeetingResponseOptions {
  /**
   * Protocol versions up to 14.1 have no SendResponse: clients of those versions send the answer themselves
   * with SendMail (MS-ASCMD 2.2.1.11), so by default the server sends nothing for them. Set this for clients
   * that expect the server to answer the organizer.
   */
  readonly replyBefore16?: boolean;
  /** Requests answered per command at most; the rest get Status 2. Default 100. */
  readonly maxRequests?: number;
  readonly now?: () => Date;
  /** Failures of the side effects after the calendar was written (reply submission, moving the request). */
  readonly onError?: (error: unknown) => void;
}

/** `UserResponse`: 1 accepted, 2 tentatively accepted, 3 declined. */
type UserResponse = 1 | 2 | 3;

interface ResponseRequest {
  readonly userResponse: number | undefined;
  readonly collectionId: string | undefined;
  readonly requestId: string | undefined;
  readonly longId: string | undefined;
  readonly instanceId: string | undefined;
  readonly sendResponse: WbxmlElement | undefined;
}

class StatusError extends Error {
  constructor(
    readonly status: MeetingResponseStatus,
    message: string,
  ) {
    super(message);
  }
}

const INSTANCE_ID = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/**
 * MeetingResponse (MS-ASCMD 2.2.1.11): accepts, tentatively accepts or declines a meeting request from the
 * Inbox (the `IPM.Schedule.Meeting.Request` message) or a received meeting in the Calendar, for the whole
 * series or (14.1+, Calendar only) one occurrence named by `InstanceId`. Accepting or tentatively accepting
 * creates or updates the calendar item and answers its id in `CalendarId`; declining removes the meeting (or
 * the occurrence). An answered request leaves the Inbox for Deleted Items. From 16.0 an iTIP REPLY goes to the
 * organizer when the request has `SendResponse` (with its `Body` as the note, and with 16.1 a proposed new
 * time as a COUNTER); before 16.0 only with {@link MeetingResponseOptions.replyBefore16}.
 */
export function meetingResponseCommand(
  services: MeetingResponseServices,
  options: MeetingResponseOptions = {},
): EasCommandHandler {
  const now = options.now ?? (() => new Date());
  const maxRequests = options.maxRequests ?? 100;
  return async (context) => {
    const body = context.body;
    if (body?.qualifiedName !== 'MeetingResponse:MeetingResponse') {
      throw new EasHttpError(400, 'MeetingResponse needs a MeetingResponse body');
    }
    const version = context.head.protocolVersion;
    const results: WbxmlElement[] = [];
    for (const [index, element] of body.all('MeetingResponse:Request').entries()) {
      const request = readRequest(element);
      let status: MeetingResponseStatus = MeetingResponseStatus.Success;
      let calendarId: string | undefined;
      try {
        if (index >= maxRequests) throw new StatusError(2, 'too many requests in one command');
        calendarId = await respond(services, options, context.identity, version, request, now());
      } catch (error) {
        status = statusOf(error);
        if (status === MeetingResponseStatus.ServerError || status === MeetingResponseStatus.MailboxError) {
          options.onError?.(error);
        }
      }
      results.push(
        MR.Result(
          request.requestId !== undefined ? MR.RequestId(request.requestId) : null,
          MR.Status(status),
          status === MeetingResponseStatus.Success && calendarId ? MR.CalendarId(calendarId) : null,
          request.instanceId !== undefined && INSTANCE_ID.test(request.instanceId)
            ? MR.InstanceId(request.instanceId)
            : null,
        ),
      );
    }
    return { kind: 'wbxml', body: MR.MeetingResponse(results) };
  };
}

function readRequest(element: WbxmlElement): ResponseRequest {
  const text = (name: string) => {
    const found = element.child(name);
    if (!found) return undefined;
    return found.bytes ? new TextDecoder().decode(found.bytes) : (found.text ?? '');
  };
  const response = text('MeetingResponse:UserResponse');
  return {
    userResponse: response !== undefined && /^\d{1,2}$/.test(response.trim()) ? Number(response) : undefined,
    collectionId: text('MeetingResponse:CollectionId'),
    requestId: text('MeetingResponse:RequestId'),
    longId: text('Search:LongId'),
    instanceId: text('MeetingResponse:InstanceId'),
    sendResponse: element.child('MeetingResponse:SendResponse'),
  };
}

function statusOf(error: unknown): MeetingResponseStatus {
  if (error instanceof StatusError) return error.status;
  // Unknown ids and other users' items look the same: not a meeting request this user has.
  if (error instanceof NotFoundError) return MeetingResponseStatus.InvalidMeetingRequest;
  return MeetingResponseStatus.ServerError;
}

/** What the answer is about: the calendar item and, for one occurrence, its original start. */
interface Target {
  readonly item: StoredItem & { class: 'Calendar' };
  readonly instance?: Date;
  /** The Inbox request answered, when the answer came from the Inbox. */
  readonly requestMessageId?: string;
}

async function respond(
  services: MeetingResponseServices,
  options: MeetingResponseOptions,
  identity: { userId: string; addresses: readonly string[] },
  version: Parameters<typeof atLeast>[0],
  request: ResponseRequest,
  now: Date,
): Promise<string | undefined> {
  const { mailbox } = services;
  const userId = identity.userId;
  const response = request.userResponse;
  if (response !== 1 && response !== 2 && response !== 3) {
    throw new StatusError(2, `UserResponse ${String(response)} is not 1-3`);
  }
  let instance: Date | undefined;
  if (request.instanceId !== undefined) {
    if (!atLeast(version, '14.1')) throw new StatusError(2, 'InstanceId needs 14.1');
    if (!INSTANCE_ID.test(request.instanceId)) throw new StatusError(104, 'InstanceId is not a dateTime');
    instance = new Date(request.instanceId);
    if (Number.isNaN(instance.getTime())) throw new StatusError(104, 'InstanceId is not a date');
  }
  const itemId = request.requestId ?? request.longId;
  if (!itemId) throw new StatusError(2, 'neither RequestId nor LongId');
  const item = await mailbox.getItem(userId, itemId);
  if (
    request.requestId !== undefined &&
    request.collectionId !== undefined &&
    item.folderId !== request.collectionId
  ) {
    throw new StatusError(2, 'the item is not in that collection');
  }
  const user = await mailbox.getUser(userId);
  const addresses = [...new Set([user.primarySmtpAddress, ...user.aliases, ...identity.addresses])];
  const target = await resolveTarget(mailbox, userId, item, instance, addresses);

  const sendResponse = request.sendResponse;
  const proposal = readProposal(sendResponse, version);
  const written = await applyResponse(mailbox, userId, target, response, now);

  // The calendar is written: what follows must not make the device answer again.
  if (target.requestMessageId) {
    await moveToDeletedItems(mailbox, userId, target.requestMessageId).catch((error) =>
      options.onError?.(error),
    );
  }
  const send = atLeast(version, '16.0') ? sendResponse !== undefined : options.replyBefore16 === true;
  if (send && services.submitter) {
    const note = sendResponse ? noteOf(sendResponse) : undefined;
    await sendReply(services.submitter, user.primarySmtpAddress, target, written, response, addresses, now, {
      ...(note ? { note } : {}),
      ...(proposal ? { proposal } : {}),
    }).catch((error) => {
      // Submission failed after the calendar changed; the device may retry, which writes the same again.
      throw new StatusError(4, `the reply could not be sent: ${(error as Error).message}`);
    });
  }
  return response === 3 && written === undefined ? undefined : (written?.id ?? target.item.id);
}

async function resolveTarget(
  mailbox: MailboxStore,
  userId: string,
  item: StoredItem,
  instance: Date | undefined,
  addresses: readonly string[],
): Promise<Target> {
  const own = new Set(addresses.map((entry) => entry.toLowerCase()));
  if (item.class === 'Email') {
    const meeting = item.data.meetingRequest;
    if (!meeting || !item.data.messageClass.startsWith('IPM.Schedule.Meeting.Request')) {
      throw new StatusError(2, 'the message is not a meeting request');
    }
    // An InstanceId with a meeting request message is an error (MS-ASCMD 2.2.3.177.9).
    if (instance) throw new StatusError(2, 'InstanceId with a meeting request message');
    const uid =
      meeting.uid ?? (meeting.globalObjectId ? uidOfGlobalObjectId(meeting.globalObjectId) : undefined);
    if (!uid) throw new StatusError(2, 'the meeting request has no UID');
    const calendar = (await mailbox.listFolders(userId)).find(
      (folder) => folder.type === FolderType.Calendar,
    );
    if (!calendar) throw new StatusError(3, 'the user has no Calendar folder');
    const known = await findCalendarItemByUid(mailbox, userId, calendar.id, uid);
    let stored: StoredItem & { class: 'Calendar' };
    if (known) stored = known;
    else {
      // The user removed the tentative item (or it never existed): make it again from the request.
      const data: CalendarData = {
        startTime: meeting.startTime,
        endTime: meeting.endTime,
        uid,
        meetingStatus: 3,
        responseType: 5,
        busyStatus: 1,
        ...(meeting.allDayEvent !== undefined ? { allDayEvent: meeting.allDayEvent } : {}),
        ...(meeting.timeZone ? { timeZone: meeting.timeZone } : {}),
        ...(item.data.subject !== undefined ? { subject: item.data.subject } : {}),
        ...(meeting.location ? { location: meeting.location } : {}),
        ...(meeting.organizer
          ? {
              organizerEmail: meeting.organizer.address,
              organizerName: meeting.organizer.name ?? meeting.organizer.address,
            }
          : {}),
        ...(meeting.recurrences?.[0] && !meeting.recurrenceId ? { recurrence: meeting.recurrences[0] } : {}),
        ...(meeting.reminder !== undefined ? { reminder: Math.round(meeting.reminder / 60) } : {}),
        ...(meeting.sensitivity !== undefined ? { sensitivity: meeting.sensitivity } : {}),
      };
      stored = (await mailbox.createItem(userId, calendar.id, { class: 'Calendar', data })) as StoredItem & {
        class: 'Calendar';
      };
    }
    const found = stored;
    const occurrence = meeting.recurrenceId && found.data.recurrence ? meeting.recurrenceId : undefined;
    return { item: found, ...(occurrence ? { instance: occurrence } : {}), requestMessageId: item.id };
  }
  if (item.class !== 'Calendar')
    throw new StatusError(2, 'the item is neither a meeting request nor an event');
  const data = item.data;
  const organizes =
    data.meetingStatus === 1 ||
    data.meetingStatus === 5 ||
    data.meetingStatus === 9 ||
    data.meetingStatus === 13 ||
    (data.organizerEmail !== undefined && own.has(data.organizerEmail.toLowerCase()));
  if (organizes) throw new StatusError(2, 'the user organizes this meeting');
  if (!data.meetingStatus || !data.organizerEmail) throw new StatusError(2, 'an appointment, not a meeting');
  if (data.meetingStatus === 7 || data.meetingStatus === 15)
    throw new StatusError(2, 'the meeting is cancelled');
  if (instance) {
    if (!data.recurrence) throw new StatusError(146, 'InstanceId on a meeting that does not recur');
    if (!seriesOccursAt(data, instance)) throw new StatusError(2, 'the series has no such occurrence');
  }
  return { item: item as StoredItem & { class: 'Calendar' }, ...(instance ? { instance } : {}) };
}

/**
 * Writes the answer. Accept/tentative: ResponseType 3/2, the busy status that goes with it, the reply time.
 * Decline: the meeting is deleted (or the occurrence becomes a deleted exception). Returns the item as
 * written, or undefined when it was deleted.
 */
async function applyResponse(
  mailbox: MailboxStore,
  userId: string,
  target: Target,
  response: UserResponse,
  now: Date,
): Promise<(StoredItem & { class: 'Calendar' }) | undefined> {
  const { item, instance } = target;
  const responseType = response === 1 ? 3 : response === 2 ? 2 : 4;
  const intended = item.data.busyStatus === 0 ? 0 : item.data.busyStatus === 3 ? 3 : 2;
  const busyStatus = response === 2 ? 1 : intended;
  if (instance) {
    const at = instance.getTime();
    const current = item.data.exceptions?.find((entry) => entry.exceptionStartTime.getTime() === at);
    const exception: CalendarException =
      response === 3
        ? { ...(current ?? {}), exceptionStartTime: instance, deleted: true }
        : {
            ...(current ?? {}),
            exceptionStartTime: instance,
            responseType,
            busyStatus,
            appointmentReplyTime: now,
          };
    const exceptions = [
      ...(item.data.exceptions ?? []).filter((entry) => entry.exceptionStartTime.getTime() !== at),
      exception,
    ];
    return (await mailbox.updateItem(userId, item.id, {
      class: 'Calendar',
      data: { exceptions },
    })) as StoredItem & {
      class: 'Calendar';
    };
  }
  if (response === 3) {
    await mailbox.deleteItem(userId, item.id);
    return undefined;
  }
  return (await mailbox.updateItem(userId, item.id, {
    class: 'Calendar',
    data: { responseType, busyStatus, appointmentReplyTime: now, meetingStatus: 3 },
  })) as StoredItem & { class: 'Calendar' };
}

async function moveToDeletedItems(mailbox: MailboxStore, userId: string, messageId: string): Promise<void> {
  const deleted = (await mailbox.listFolders(userId)).find(
    (folder) => folder.type === FolderType.DeletedItems,
  );
  if (deleted) await mailbox.moveItem(userId, messageId, deleted.id);
  else await mailbox.deleteItem(userId, messageId);
}

interface Proposal {
  readonly start: Date;
  readonly end: Date;
}

/** 16.1 ProposedStartTime/ProposedEndTime (compact dates); one without the other is invalid (2.2.3.140/141). */
function readProposal(sendResponse: WbxmlElement | undefined, version: Parameters<typeof atLeast>[0]) {
  if (!sendResponse || !atLeast(version, '16.1')) return undefined;
  const start = sendResponse.textOf('MeetingResponse:ProposedStartTime');
  const end = sendResponse.textOf('MeetingResponse:ProposedEndTime');
  if (start === undefined && end === undefined) return undefined;
  if (start === undefined || end === undefined) throw new StatusError(2, 'a proposal needs both times');
  let proposal: Proposal;
  try {
    proposal = { start: parseEasDate(start), end: parseEasDate(end) };
  } catch {
    throw new StatusError(2, 'a proposed time is not a date');
  }
  if (proposal.end.getTime() < proposal.start.getTime())
    throw new StatusError(2, 'the proposal ends before it starts');
  return proposal;
}

/** The text of SendResponse's `airsyncbase:Body` (plain as is; HTML with its markup removed). */
function noteOf(sendResponse: WbxmlElement): string | undefined {
  const body = sendResponse.child('AirSyncBase:Body');
  if (!body) return undefined;
  const data = body.child('AirSyncBase:Data');
  const raw = data?.bytes ? new TextDecoder().decode(data.bytes) : (data?.text ?? '');
  const type = body.intOf('AirSyncBase:Type') ?? 1;
  const text = type === 2 ? raw.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ') : raw;
  return text.trim() === '' ? undefined : text.slice(0, 64 * 1024);
}

async function sendReply(
  submitter: MailSubmitter,
  from: string,
  target: Target,
  written: (StoredItem & { class: 'Calendar' }) | undefined,
  response: UserResponse,
  addresses: readonly string[],
  now: Date,
  extra: { note?: string; proposal?: Proposal },
): Promise<void> {
  const data = (written ?? target.item).data;
  if (!data.organizerEmail || !data.uid) return;
  const organizer: EmailAddress = {
    address: data.organizerEmail,
    ...(data.organizerName && data.organizerName !== data.organizerEmail ? { name: data.organizerName } : {}),
  };
  const ownEntry = findOwnAttendee(data.attendees, addresses);
  const attendee: EmailAddress = {
    address: ownEntry?.email ?? from,
    ...(ownEntry?.name ? { name: ownEntry.name } : {}),
  };
  const partstat = response === 1 ? 'ACCEPTED' : response === 2 ? 'TENTATIVE' : 'DECLINED';
  const exception = target.instance
    ? target.item.data.exceptions?.find(
        (entry) => entry.exceptionStartTime.getTime() === target.instance!.getTime(),
      )
    : undefined;
  const length = data.endTime.getTime() - data.startTime.getTime();
  const start = extra.proposal?.start ?? exception?.startTime ?? target.instance ?? data.startTime;
  const end = extra.proposal?.end ?? exception?.endTime ?? new Date(start.getTime() + length);
  const subject = exception?.subject ?? data.subject ?? '';
  const ics = buildReply({
    method: extra.proposal ? 'COUNTER' : 'REPLY',
    uid: data.uid,
    ...(data.sequence ? { sequence: data.sequence } : {}),
    ...(target.instance ? { recurrenceId: target.instance } : {}),
    organizer,
    attendee,
    partstat,
    summary: subject,
    start,
    end,
    ...(extra.note ? { comment: extra.note } : {}),
    now,
  });
  const verb = extra.proposal
    ? 'New Time Proposed'
    : { ACCEPTED: 'Accepted', TENTATIVE: 'Tentative', DECLINED: 'Declined' }[partstat];
  const text = extra.note ?? `${attendee.name ?? attendee.address} has answered: ${partstat.toLowerCase()}.`;
  const mime = replyMime({
    from: attendee,
    to: organizer,
    subject: `${verb}: ${subject}`,
    text,
    ics,
    method: extra.proposal ? 'COUNTER' : 'REPLY',
    now,
  });
  await submitter.submit({ from, recipients: [organizer.address], mime });
}

function encodeHeader(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function formatMailbox(entry: EmailAddress): string {
  if (!entry.name) return entry.address;
  return `"${encodeHeader(entry.name).replace(/["\\]/g, '')}" <${entry.address}>`;
}

function base64Lines(text: string): string {
  return (
    Buffer.from(text, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join('\r\n');
}

/** The reply message: a text part for people and the iCalendar part for their calendar (RFC 6047). */
function replyMime(parts: {
  from: EmailAddress;
  to: EmailAddress;
  subject: string;
  text: string;
  ics: string;
  method: string;
  now: Date;
}): Uint8Array {
  const boundary = `----=_easkit_${randomBytes(12).toString('hex')}`;
  const domain = parts.from.address.slice(parts.from.address.lastIndexOf('@') + 1) || 'localhost';
  const lines = [
    `From: ${formatMailbox(parts.from)}`,
    `To: ${formatMailbox(parts.to)}`,
    `Subject: ${encodeHeader(parts.subject.replace(/[\r\n]+/g, ' '))}`,
    `Date: ${parts.now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(parts.text),
    `--${boundary}`,
    `Content-Type: text/calendar; charset=utf-8; method=${parts.method}`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(parts.ics),
    `--${boundary}--`,
    '',
  ];
  return new TextEncoder().encode(lines.join('\r\n'));
}
