import type {
  BusyStatus,
  ClientOrigin,
  EmailAddress,
  Importance,
  Location,
  Recurrence,
  Sensitivity,
  TimeZone,
} from './common.js';

/** `Flag/Status`: 0 cleared, 1 complete, 2 active (flagged for follow-up). */
export type FlagStatus = 0 | 1 | 2;

/**
 * The follow-up flag of a message (`email:Flag`). Its date fields come from the Tasks code page; the local
 * (`start`, `due`) variants hold the wall-clock time in the Date's UTC fields.
 */
export interface EmailFlag {
  status: FlagStatus;
  /** Free text shown by clients, e.g. "Follow up". */
  flagType?: string;
  /** `Flag/CompleteTime`. */
  completeTime?: Date;
  /** `tasks:DateCompleted` inside the flag. */
  dateCompleted?: Date;
  startDate?: Date;
  utcStartDate?: Date;
  dueDate?: Date;
  utcDueDate?: Date;
  reminderSet?: boolean;
  reminderTime?: Date;
  /** `tasks:OrdinalDate`: sort key set when the flag was set. */
  ordinalDate?: Date;
  /** `tasks:SubOrdinalDate`: secondary sort key, an opaque string. */
  subOrdinalDate?: string;
}

/** `InstanceType` of a meeting request: 0 single, 1 recurring master, 2 single occurrence, 3 exception. */
export type MeetingInstanceType = 0 | 1 | 2 | 3;

/**
 * `email2:MeetingMessageType` (14.1+): 0 silent update, 1 initial request, 2 full update, 3 informational update,
 * 4 outdated, 5 delegator's copy, 6 delegated.
 */
export type MeetingMessageType = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** The `MeetingRequest` container of meeting request, response and cancellation messages. */
export interface MeetingRequest {
  allDayEvent?: boolean;
  startTime: Date;
  endTime: Date;
  dtStamp?: Date;
  instanceType?: MeetingInstanceType;
  /** `email:Location` (≤ 14.1) or `airsyncbase:Location` (16.x); a plain string becomes `{ displayName }`. */
  location?: Location;
  /** Organizer as an RFC 5322 address. */
  organizer?: EmailAddress;
  /** Original start time of the occurrence this message is about (recurring meetings). */
  recurrenceId?: Date;
  /** Reminder, in seconds before the start (note: Calendar items count minutes). */
  reminder?: number;
  responseRequested?: boolean;
  recurrences?: Recurrence[];
  sensitivity?: Sensitivity;
  busyStatus?: BusyStatus;
  timeZone?: TimeZone;
  /** `GlobalObjId` (≤ 14.1): the base64 MAPI global object id, as EAS carries it. */
  globalObjectId?: string;
  /** `calendar:UID` (16.x), replacing `globalObjectId`. */
  uid?: string;
  disallowNewTimeProposal?: boolean;
  meetingMessageType?: MeetingMessageType;
  /** Times an attendee proposed in a counter-proposal response. */
  proposedStartTime?: Date;
  proposedEndTime?: Date;
}

/** `Attachment/Method`: 1 normal, 5 embedded message, 6 OLE object. */
export type AttachmentMethod = 1 | 5 | 6;

/**
 * Metadata of one attachment (`airsyncbase:Attachment`). The store derives it from the raw MIME whenever MIME
 * is written; the bytes are fetched with `MailboxStore.readAttachment(user, fileReference)`.
 */
export interface AttachmentInfo {
  /** Opaque handle assigned by the store, unique within the user's mailbox. */
  fileReference: string;
  displayName: string;
  method: AttachmentMethod;
  /** Size of the decoded content in bytes. */
  estimatedDataSize: number;
  contentType?: string;
  /** Content-ID without angle brackets, for `cid:` references from the HTML body. */
  contentId?: string;
  contentLocation?: string;
  isInline?: boolean;
  /** `email2:UmAttDuration`: length of a voicemail recording, seconds. */
  umAttDuration?: number;
  /** `email2:UmAttOrder`: order of voicemail recordings. */
  umAttOrder?: number;
}

/**
 * Which attachment of a 16.x draft a device added under which `airsyncbase:ClientId`, so that an Add resent
 * after a lost response is recognised. Attachments are named by name and size, since their file references are
 * derived by the store and may change when the draft's MIME is composed again.
 */
export interface AttachmentClientId {
  clientId: string;
  displayName: string;
  estimatedDataSize: number;
}

/** `email2:LastVerbExecuted`: 0 unknown, 1 replied to sender, 2 replied to all, 3 forwarded. */
export type LastVerb = 0 | 1 | 2 | 3;

/** An Email item (MS-ASEMAIL). */
export interface EmailData {
  /** Set by Sync for items a device added; see {@link ClientOrigin}. */
  clientOrigin?: ClientOrigin;
  /**
   * The message as received or composed, RFC 5322 bytes. It is the source of truth for the body in every form
   * and for attachments; no other field is ever used to rebuild it.
   */
  mime: Uint8Array;
  from?: EmailAddress;
  /** `email2:Sender`, when it differs from `from`. */
  sender?: EmailAddress;
  to?: EmailAddress[];
  cc?: EmailAddress[];
  /** `email2:Bcc` (16.0+, drafts). */
  bcc?: EmailAddress[];
  replyTo?: EmailAddress[];
  subject?: string;
  dateReceived: Date;
  /** Display names of the To recipients, `;`-separated. */
  displayTo?: string;
  threadTopic?: string;
  importance?: Importance;
  read: boolean;
  flag?: EmailFlag;
  categories?: string[];
  /** e.g. `IPM.Note`, `IPM.Schedule.Meeting.Request`, `IPM.Note.SMIME`. */
  messageClass: string;
  /** Windows code page of the original message; 65001 for UTF-8. */
  internetCPID?: number;
  /** `urn:content-classes:message` or `urn:content-classes:calendarmessage`. */
  contentClass?: string;
  conversationId?: Uint8Array;
  /** A chain of 5-byte timestamps describing the message's place in its conversation. */
  conversationIndex?: Uint8Array;
  lastVerbExecuted?: LastVerb;
  lastVerbExecutionTime?: Date;
  receivedAsBcc?: boolean;
  /** `email2:IsDraft` (16.0+). */
  isDraft?: boolean;
  meetingRequest?: MeetingRequest;
  /** Derived from `mime` by the store; values given by callers are replaced. */
  attachments?: AttachmentInfo[];
  /** 16.x drafts: the ClientIds under which the device added attachments (kept by the EAS layer). */
  attachmentClientIds?: AttachmentClientId[];
  /** A short plain-text preview (`airsyncbase:Preview`, ≤ 255 characters). */
  preview?: string;
  /** `email2:UmCallerID` (voicemail). */
  umCallerId?: string;
  /** `email2:UmUserNotes` (voicemail). */
  umUserNotes?: string;
  /** `email2:AccountId` (14.1+): which of the user's accounts the message belongs to. */
  accountId?: string;
}
