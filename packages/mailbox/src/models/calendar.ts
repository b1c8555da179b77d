import type {
  BusyStatus,
  ClientOrigin,
  Location,
  Recurrence,
  Sensitivity,
  StoredBody,
  TimeZone,
} from './common.js';
import type { AttachmentInfo } from './email.js';

/** `AttendeeStatus`: 0 unknown, 2 tentative, 3 accepted, 4 declined, 5 not responded. */
export type AttendeeStatus = 0 | 2 | 3 | 4 | 5;
/** `AttendeeType`: 1 required, 2 optional, 3 resource. */
export type AttendeeType = 1 | 2 | 3;

export interface Attendee {
  email: string;
  name?: string;
  status?: AttendeeStatus;
  type?: AttendeeType;
  /** A new time the attendee proposed in their response (MeetingResponse `ProposedStartTime`, 16.1). */
  proposedStartTime?: Date;
  proposedEndTime?: Date;
}

/**
 * `MeetingStatus`: 0 appointment (no attendees), 1 meeting the user organizes, 3 meeting the user received,
 * 5 cancelled meeting the user organized, 7 cancelled meeting the user received; MS-ASCAL also allows 9, 11,
 * 13 and 15, which mean the same as 1, 3, 5 and 7.
 */
export type MeetingStatus = 0 | 1 | 3 | 5 | 7 | 9 | 11 | 13 | 15;

/** `ResponseType`: 0 none, 1 organizer, 2 tentative, 3 accepted, 4 declined, 5 not responded. */
export type ResponseType = 0 | 1 | 2 | 3 | 4 | 5;

/** The fields an exception may override; any field left out is inherited from the series. */
export interface CalendarOverrides {
  subject?: string;
  startTime?: Date;
  endTime?: Date;
  dtStamp?: Date;
  allDayEvent?: boolean;
  location?: Location;
  body?: StoredBody;
  busyStatus?: BusyStatus;
  sensitivity?: Sensitivity;
  /** Minutes before the start. */
  reminder?: number;
  meetingStatus?: MeetingStatus;
  attendees?: Attendee[];
  categories?: string[];
  responseType?: ResponseType;
  appointmentReplyTime?: Date;
  onlineMeetingConfLink?: string;
  onlineMeetingExternalLink?: string;
}

/**
 * One changed or deleted occurrence of a recurring series. `exceptionStartTime` is the occurrence's original
 * start (UTC): `ExceptionStartTime` up to 14.1, and the value of `airsyncbase:InstanceId` in 16.x.
 */
export interface CalendarException extends CalendarOverrides {
  exceptionStartTime: Date;
  deleted?: boolean;
}

/**
 * An attachment of a calendar item (16.0+, added by a device through Sync). Calendar items have no MIME to
 * derive attachments from, so the bytes are kept with the item. `fileReference` is assigned by whoever adds
 * the attachment (the EAS layer) and must be unique within the user's mailbox.
 */
export interface CalendarAttachment extends AttachmentInfo {
  /** The decoded bytes. */
  content: Uint8Array;
  /** The `airsyncbase:ClientId` the device gave when it added the attachment, so a resent Add is recognised. */
  clientId?: string;
}

/** A Calendar item (MS-ASCAL). */
export interface CalendarData {
  /** Set by Sync for items a device added; see {@link ClientOrigin}. */
  clientOrigin?: ClientOrigin;
  /** Absent for 16.x items created without one; clients then assume their own zone. */
  timeZone?: TimeZone;
  allDayEvent?: boolean;
  startTime: Date;
  endTime: Date;
  dtStamp?: Date;
  subject?: string;
  location?: Location;
  body?: StoredBody;
  organizerName?: string;
  organizerEmail?: string;
  /** Server-owned identity of the event (iCalendar UID). */
  uid?: string;
  /**
   * iCalendar `SEQUENCE` of the organizer's latest version of a received meeting: a REQUEST or CANCEL with a
   * lower sequence is out of date, and a higher one resets the user's response.
   */
  sequence?: number;
  /** `ClientUid` (16.0+): the id the device chose when it added the event. */
  clientUid?: string;
  busyStatus?: BusyStatus;
  sensitivity?: Sensitivity;
  /** Minutes before the start. */
  reminder?: number;
  meetingStatus?: MeetingStatus;
  attendees?: Attendee[];
  categories?: string[];
  recurrence?: Recurrence;
  exceptions?: CalendarException[];
  responseRequested?: boolean;
  responseType?: ResponseType;
  appointmentReplyTime?: Date;
  disallowNewTimeProposal?: boolean;
  onlineMeetingConfLink?: string;
  onlineMeetingExternalLink?: string;
  /** Attachments (16.0+), stored like any other field; the EAS layer reads and writes them. */
  attachments?: CalendarAttachment[];
}

/**
 * Formats an occurrence's original start as a 16.x `InstanceId` (`2025-01-02T09:00:00.000Z`, the dateTime form
 * MS-ASAIRS uses).
 */
export function formatInstanceId(originalStart: Date): string {
  return originalStart.toISOString();
}

/** Parses an `InstanceId` (either dateTime form EAS uses) into the occurrence's original start. */
export function parseInstanceId(instanceId: string): Date | undefined {
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(instanceId);
  const date = compact
    ? new Date(
        Date.UTC(+compact[1]!, +compact[2]! - 1, +compact[3]!, +compact[4]!, +compact[5]!, +compact[6]!),
      )
    : new Date(instanceId);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The exception of `event` for the occurrence originally starting at `originalStart`, if there is one. */
export function findException(event: CalendarData, originalStart: Date): CalendarException | undefined {
  const t = originalStart.getTime();
  return event.exceptions?.find((e) => e.exceptionStartTime.getTime() === t);
}
