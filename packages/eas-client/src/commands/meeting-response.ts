import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../protocol.js';
import { intOf } from './items.js';

const { MeetingResponse: MR, Search: SR } = eas;

export interface MeetingResponseRequest {
  /** 1 accept, 2 tentative, 3 decline. */
  userResponse: 1 | 2 | 3;
  /** The meeting request (Inbox) or calendar item, by folder and id, or by a Search result's LongId. */
  source: { collectionId: string; requestId: string } | { longId: string };
  /** 14.1+: one occurrence of a series, by its start time. */
  instanceId?: string;
  /** 16.0+: ask the server to send the answer to the organizer. */
  sendResponse?: boolean;
}

export interface MeetingResponseResult {
  requestId: string;
  /** 1 success, 2 invalid meeting request, 3 mailbox error, 4 server error (MS-ASCMD 2.2.3.177.9). */
  status: number;
  /** The calendar item's id (absent for a decline). */
  calendarId?: string;
}

export function meetingResponseRequest(version: string, requests: MeetingResponseRequest[]): WbxmlElement {
  return MR.MeetingResponse(
    requests.map((request) =>
      MR.Request(
        MR.UserResponse(request.userResponse),
        'longId' in request.source
          ? SR.LongId(request.source.longId)
          : [MR.CollectionId(request.source.collectionId), MR.RequestId(request.source.requestId)],
        request.instanceId !== undefined && atLeast(version, '14.1') && MR.InstanceId(request.instanceId),
        request.sendResponse && atLeast(version, '16.0') && MR.SendResponse(),
      ),
    ),
  );
}

export function readMeetingResponse(body: WbxmlElement | undefined): MeetingResponseResult[] {
  return (body?.all('MeetingResponse:Result') ?? []).map((result) => {
    const calendarId = result.textOf('MeetingResponse:CalendarId');
    return {
      requestId: result.textOf('MeetingResponse:RequestId') ?? '',
      status: intOf(result, 'MeetingResponse:Status') ?? 0,
      ...(calendarId !== undefined ? { calendarId } : {}),
    };
  });
}
