import {
  type CalendarData,
  type Directory,
  type DirectoryEntry,
  FolderType,
  type MailboxSearch,
  type MailboxStore,
  NotFoundError,
  SearchTooComplexError,
  type UserId,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { parseEasDate } from '../convert/dates.js';
import type { EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast } from '../http/protocol-version.js';
import { type PictureRequest, pictureBudget, readPictureRequest, SearchRequestError } from './search.js';

const { ResolveRecipients: RR } = eas;

/** ResolveRecipients statuses (MS-ASCMD 2.2.3.177.12), per level. */
export const ResolveRecipientsStatus = {
  Success: 1,
  /** Response: several recipients match; all of them are returned as suggestions. */
  Ambiguous: 2,
  /** Response: several match; only the first `MaxAmbiguousRecipients` are returned. */
  AmbiguousPartial: 3,
  /** Response: nobody matches. */
  Unresolved: 4,
  /** Command: the request breaks the protocol. */
  ProtocolError: 5,
  /** Command: the server failed. */
  ServerError: 6,
  /** Certificates: the recipient has no valid certificate. */
  NoValidCertificate: 7,
  /** Certificates: `MaxCertificates` for the request is used up. */
  CertificateLimitReached: 8,
  /** Availability: more than 100 recipients asked for. */
  AvailabilityTooManyRecipients: 160,
  /** Availability: a distribution list with more than 20 members. */
  AvailabilityTooManyMembers: 161,
  /** Availability: a temporary failure; ask again. */
  AvailabilityRetry: 162,
  /** Availability: the free/busy data cannot be read (a recipient outside this server, a personal contact). */
  AvailabilityFailed: 163,
} as const;

/** Recipient `Type`: 1 from the GAL, 2 from the user's contacts. */
const GAL_RECIPIENT = 1;
const CONTACT_RECIPIENT = 2;

export interface ResolveRecipientsOptions {
  /** Suggestions per ambiguous name when the client gives no `MaxAmbiguousRecipients`; default 20. */
  readonly defaultMaxAmbiguous?: number;
  /** Longest availability window in days; default 42 (six weeks). */
  readonly maxAvailabilityDays?: number;
  readonly onError?: (info: { user: UserId; error: unknown }) => void;
}

export interface ResolveRecipientsServices {
  readonly mailbox: MailboxStore;
  readonly search: MailboxSearch;
  readonly directory?: Directory;
}

interface Candidate {
  readonly type: 1 | 2;
  readonly displayName: string;
  readonly emailAddress: string;
  readonly entry?: DirectoryEntry;
}

const SLOT_MS = 30 * 60 * 1000;
const MAX_TO = 100;

/**
 * ResolveRecipients (MS-ASCMD 2.2.1.15, every version). Each `To` (a name or an address, at most 100) is
 * looked up in the directory and in the user's contacts: an address that a directory entry or a contact owns
 * exactly resolves to that one (Status 1); otherwise the prefix matches of both are the candidates (a GAL entry
 * wins over a contact with the same address): none is 4, one is 1, several are 2 (all returned) or 3 (the first
 * `MaxAmbiguousRecipients` returned).
 *
 * Options: `CertificateRetrieval` 2 (full) or 3 (mini) returns the directory's certificates per recipient
 * (Status 7 when it has none; Status 8 once `MaxCertificates` certificates have been sent; the "mini"
 * form carries the same DER, as this server keeps no reduced form). `Availability` (14.0+) merges the
 * recipient's calendar into one digit per 30 minutes of StartTime-EndTime (0 free, 1 tentative, 2 busy, 3 out
 * of office, 4 no data), for recipients with a mailbox on this server; others get 163. `Picture` (14.1+)
 * returns directory photos under `MaxSize` and `MaxPictures` (173/174/175).
 */
export function resolveRecipientsCommand(
  services: ResolveRecipientsServices,
  options: ResolveRecipientsOptions = {},
): EasCommandHandler {
  return async ({ identity, head, body }): Promise<EasCommandResult> => {
    const user = identity.userId;
    const version = head.protocolVersion;
    const fail = (status: number): EasCommandResult => ({
      kind: 'wbxml',
      body: RR.ResolveRecipients(RR.Status(status)),
    });
    if (body?.qualifiedName !== 'ResolveRecipients:ResolveRecipients') {
      return fail(ResolveRecipientsStatus.ProtocolError);
    }
    const names = body.all('ResolveRecipients:To').map((to) => to.text?.trim() ?? '');
    if (
      names.length === 0 ||
      names.length > MAX_TO ||
      names.some((name) => name === '' || name.length > 1024)
    ) {
      return fail(ResolveRecipientsStatus.ProtocolError);
    }
    let request: ReturnType<typeof readOptions>;
    try {
      request = readOptions(body.child('ResolveRecipients:Options'));
    } catch {
      return fail(ResolveRecipientsStatus.ProtocolError);
    }
    if (request.availability && !atLeast(version, '14.0')) return fail(ResolveRecipientsStatus.ProtocolError);
    if (request.picture && !atLeast(version, '14.1')) return fail(ResolveRecipientsStatus.ProtocolError);
    const maxDays = options.maxAvailabilityDays ?? 42;
    if (
      request.availability &&
      (request.availability.end <= request.availability.start ||
        request.availability.end.getTime() - request.availability.start.getTime() > maxDays * 86_400_000)
    ) {
      return fail(ResolveRecipientsStatus.ProtocolError);
    }

    try {
      const maxAmbiguous = request.maxAmbiguous ?? options.defaultMaxAmbiguous ?? 20;
      let certificatesLeft = request.maxCertificates ?? Number.POSITIVE_INFINITY;
      const picture =
        request.picture && services.directory
          ? pictureBudget(services.directory, request.picture)
          : undefined;
      let availabilityAsked = 0;
      const responses: WbxmlElement[] = [];
      for (const to of names) {
        const { candidates, total } = await lookUp(to, Math.max(1, maxAmbiguous));
        let status: number;
        let returned: Candidate[];
        if (total === 0) {
          status = ResolveRecipientsStatus.Unresolved;
          returned = [];
        } else if (total === 1) {
          status = ResolveRecipientsStatus.Success;
          returned = candidates.slice(0, 1);
        } else {
          returned = candidates.slice(0, maxAmbiguous);
          status =
            returned.length === total
              ? ResolveRecipientsStatus.Ambiguous
              : ResolveRecipientsStatus.AmbiguousPartial;
        }
        const recipients: WbxmlElement[] = [];
        for (const candidate of returned) {
          const parts: (WbxmlElement | null)[] = [
            RR.Type(candidate.type),
            RR.DisplayName(candidate.displayName),
            RR.EmailAddress(candidate.emailAddress),
          ];
          if (request.availability) {
            availabilityAsked++;
            parts.push(await availability(candidate, request.availability, availabilityAsked));
          }
          if (request.certificateRetrieval === 2 || request.certificateRetrieval === 3) {
            const certificates = candidate.entry
              ? await services.directory!.certificates(candidate.entry.id)
              : [];
            let certificateStatus: number = ResolveRecipientsStatus.Success;
            let sent: Uint8Array[] = [];
            if (certificates.length === 0) certificateStatus = ResolveRecipientsStatus.NoValidCertificate;
            else if (certificatesLeft < certificates.length) {
              certificateStatus = ResolveRecipientsStatus.CertificateLimitReached;
            } else {
              sent = certificates;
              certificatesLeft -= certificates.length;
            }
            const make = request.certificateRetrieval === 3 ? RR.MiniCertificate : RR.Certificate;
            parts.push(
              RR.Certificates(
                RR.Status(certificateStatus),
                RR.CertificateCount(certificates.length),
                RR.RecipientCount(1),
                sent.map((der) => make(Buffer.from(der).toString('base64'))),
              ),
            );
          }
          if (request.picture) {
            const photo = candidate.entry && picture ? await picture(candidate.entry.id) : { status: 173 };
            parts.push(
              RR.Picture(
                RR.Status(photo.status),
                'data' in photo && photo.data ? RR.Data(Buffer.from(photo.data).toString('base64')) : null,
              ),
            );
          }
          recipients.push(RR.Recipient(parts));
        }
        responses.push(
          RR.Response(RR.To(to), RR.Status(status), RR.RecipientCount(returned.length), recipients),
        );
      }
      return {
        kind: 'wbxml',
        body: RR.ResolveRecipients(RR.Status(ResolveRecipientsStatus.Success), responses),
      };
    } catch (error) {
      options.onError?.({ user, error });
      return fail(ResolveRecipientsStatus.ServerError);
    }

    /** Directory and contact matches for one name, GAL first, without duplicate addresses. */
    async function lookUp(to: string, limit: number): Promise<{ candidates: Candidate[]; total: number }> {
      const directory = services.directory;
      const isAddress = /^[^\s@]+@[^\s@]+$/.test(to);
      if (isAddress && directory) {
        const exact = await directory.resolve(to);
        if (exact) return { candidates: [fromEntry(exact)], total: 1 };
      }
      const contacts = await contactMatches(to, limit + 1);
      if (isAddress) {
        const exact = contacts.find((contact) => contact.emailAddress.toLowerCase() === to.toLowerCase());
        if (exact) return { candidates: [exact], total: 1 };
      }
      const found = directory ? await directory.search(to, { limit: limit + 1 }) : { entries: [], total: 0 };
      const seen = new Set<string>();
      const candidates: Candidate[] = [];
      for (const candidate of [...found.entries.map(fromEntry), ...contacts]) {
        const key = candidate.emailAddress.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        candidates.push(candidate);
      }
      const duplicates = found.entries.length + contacts.length - candidates.length;
      return { candidates, total: found.total + contacts.length - duplicates };
    }

    /** Contacts of the user whose names or addresses start with the text's words (each e-mail address once). */
    async function contactMatches(to: string, limit: number): Promise<Candidate[]> {
      let hits: Awaited<ReturnType<MailboxSearch['search']>>['hits'];
      try {
        hits = (
          await services.search.search(user, {
            condition: { and: [{ classes: ['Contacts'] }, { freeText: to }] },
            limit,
          })
        ).hits;
      } catch (error) {
        if (error instanceof SearchTooComplexError) return [];
        throw error;
      }
      const out: Candidate[] = [];
      for (const hit of hits) {
        let item: Awaited<ReturnType<MailboxStore['getItem']>>;
        try {
          item = await services.mailbox.getItem(user, hit.itemId);
        } catch (error) {
          if (error instanceof NotFoundError) continue;
          throw error;
        }
        if (item.class !== 'Contacts') continue;
        const d = item.data;
        const name = [d.firstName, d.lastName].filter(Boolean).join(' ') || d.fileAs || '';
        for (const address of [d.email1Address, d.email2Address, d.email3Address]) {
          const bare = address ? bareAddress(address) : undefined;
          if (bare) out.push({ type: CONTACT_RECIPIENT, displayName: name || bare, emailAddress: bare });
        }
      }
      return out;
    }

    async function availability(
      candidate: Candidate,
      window: { start: Date; end: Date },
      asked: number,
    ): Promise<WbxmlElement> {
      if (asked > MAX_TO)
        return RR.Availability(RR.Status(ResolveRecipientsStatus.AvailabilityTooManyRecipients));
      const owner = candidate.entry
        ? await services.mailbox.resolveAddress(candidate.emailAddress)
        : undefined;
      if (!owner) return RR.Availability(RR.Status(ResolveRecipientsStatus.AvailabilityFailed));
      const events = await calendarOf(owner.id);
      return RR.Availability(
        RR.Status(ResolveRecipientsStatus.Success),
        RR.MergedFreeBusy(mergedFreeBusy(events, window.start, window.end)),
      );
    }

    /** Every calendar item of a mailbox (read through the change log from the start). */
    async function calendarOf(owner: UserId): Promise<CalendarData[]> {
      const folders = (await services.mailbox.listFolders(owner)).filter(
        (folder) => folder.type === FolderType.Calendar || folder.type === FolderType.UserCalendar,
      );
      const events: CalendarData[] = [];
      for (const folder of folders) {
        for (let since = 0; ; ) {
          const page = await services.mailbox.changes(owner, folder.id, since, 500);
          for (const change of page.changes) {
            if (change.kind !== 'delete' && change.item.class === 'Calendar') events.push(change.item.data);
          }
          since = page.nextModseq;
          if (!page.more) break;
        }
      }
      return events;
    }
  };
}

function fromEntry(entry: DirectoryEntry): Candidate {
  return { type: GAL_RECIPIENT, displayName: entry.displayName, emailAddress: entry.emailAddress, entry };
}

/** `Name <a@b>` or `a@b` → `a@b`. */
function bareAddress(text: string): string | undefined {
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(text);
  const address = (angle ? angle[1]! : text).trim();
  return /^[^\s@]+@[^\s@]+$/.test(address) ? address : undefined;
}

function readOptions(options: WbxmlElement | undefined): {
  certificateRetrieval?: number;
  maxCertificates?: number;
  maxAmbiguous?: number;
  availability?: { start: Date; end: Date };
  picture?: PictureRequest;
} {
  if (!options) return {};
  const out: ReturnType<typeof readOptions> = {};
  const retrieval = options.intOf('ResolveRecipients:CertificateRetrieval');
  if (retrieval !== undefined) {
    if (retrieval < 1 || retrieval > 3) throw new Error('CertificateRetrieval out of range');
    out.certificateRetrieval = retrieval;
  }
  const maxCertificates = options.intOf('ResolveRecipients:MaxCertificates');
  if (maxCertificates !== undefined) {
    if (maxCertificates < 0 || maxCertificates > 9999) throw new Error('MaxCertificates out of range');
    out.maxCertificates = maxCertificates;
  }
  const maxAmbiguous = options.intOf('ResolveRecipients:MaxAmbiguousRecipients');
  if (maxAmbiguous !== undefined) {
    if (maxAmbiguous < 0 || maxAmbiguous > 9999) throw new Error('MaxAmbiguousRecipients out of range');
    out.maxAmbiguous = maxAmbiguous;
  }
  const availability = options.child('ResolveRecipients:Availability');
  if (availability) {
    const start = availability.textOf('ResolveRecipients:StartTime');
    const end = availability.textOf('ResolveRecipients:EndTime');
    if (start === undefined || end === undefined) throw new Error('Availability needs StartTime and EndTime');
    out.availability = { start: parseEasDate(start), end: parseEasDate(end) };
  }
  const picture = options.child('ResolveRecipients:Picture');
  if (picture) {
    try {
      const request = readPictureRequest(picture);
      if (request) out.picture = request;
    } catch (error) {
      if (error instanceof SearchRequestError) throw new Error(error.message);
      throw error;
    }
  }
  return out;
}

/** Free/busy digit of a busy status; OOF outranks busy, busy tentative, tentative free. */
const RANK: Record<number, number> = { 0: 0, 1: 1, 2: 2, 3: 3, 4: 1 };

/**
 * One digit per 30 minutes of [start, end): the strongest busy status of the events overlapping the slot.
 * Daily and weekly recurrences are expanded (interval, count, until, weekdays, deleted and moved occurrences);
 * other recurrence types count with their first occurrence only.
 */
export function mergedFreeBusy(events: readonly CalendarData[], start: Date, end: Date): string {
  const from = start.getTime();
  const slots = new Array<number>(Math.ceil((end.getTime() - from) / SLOT_MS)).fill(0);
  const mark = (eventStart: number, eventEnd: number, busy: number) => {
    const first = Math.max(0, Math.floor((eventStart - from) / SLOT_MS));
    const last = Math.min(slots.length, Math.ceil((eventEnd - from) / SLOT_MS));
    for (let slot = first; slot < last; slot++) slots[slot] = Math.max(slots[slot]!, busy);
  };
  for (const event of events) {
    for (const occurrence of occurrences(event, from, end.getTime())) {
      mark(occurrence.start, occurrence.end, RANK[occurrence.busy] ?? 2);
    }
  }
  return slots.join('');
}

function occurrences(
  event: CalendarData,
  windowStart: number,
  windowEnd: number,
): { start: number; end: number; busy: number }[] {
  const duration = event.endTime.getTime() - event.startTime.getTime();
  const busy = event.busyStatus ?? 2;
  const base = event.startTime.getTime();
  const recurrence = event.recurrence;
  const out: { start: number; end: number; busy: number }[] = [];
  const add = (start: number) => {
    const exception = event.exceptions?.find((candidate) => candidate.exceptionStartTime.getTime() === start);
    if (exception?.deleted) return;
    const s = exception?.startTime?.getTime() ?? start;
    const e = exception?.endTime?.getTime() ?? s + duration;
    if (s < windowEnd && e > windowStart) out.push({ start: s, end: e, busy: exception?.busyStatus ?? busy });
  };
  if (!recurrence || (recurrence.type !== 0 && recurrence.type !== 1)) {
    add(base);
    return out;
  }
  const day = 86_400_000;
  const interval = Math.max(1, recurrence.interval ?? 1);
  const until = Math.min(recurrence.until?.getTime() ?? Number.POSITIVE_INFINITY, windowEnd);
  const limit = recurrence.occurrences ?? Number.POSITIVE_INFINITY;
  let count = 0;
  // Walk day by day from the series start: cheap for the bounded windows availability allows (≤ a few months
  // past the start of long series is not expected; series are cut at the window end).
  const weekStart = base - new Date(base).getUTCDay() * day;
  for (let t = base, steps = 0; t <= until && count < limit && steps < 20_000; t += day, steps++) {
    const daysFromStart = Math.round((t - base) / day);
    let occurs: boolean;
    if (recurrence.type === 0) {
      occurs = recurrence.dayOfWeek
        ? ((recurrence.dayOfWeek >> new Date(t).getUTCDay()) & 1) === 1
        : daysFromStart % interval === 0;
    } else {
      const week = Math.floor((t - weekStart) / (7 * day));
      const mask = recurrence.dayOfWeek ?? 1 << new Date(base).getUTCDay();
      occurs = week % interval === 0 && ((mask >> new Date(t).getUTCDay()) & 1) === 1;
    }
    if (!occurs) continue;
    count++;
    add(t);
  }
  return out;
}
