import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../protocol.js';
import { type ItemData, intOf, readItemData } from './items.js';
import type { BodyPreference } from './sync.js';

const { Search: SR, AirSync: AS, AirSyncBase: ASB, ResolveRecipients: RR } = eas;

/** Search (MS-ASCMD 2.2.1.16): the global address list, or the mailbox (12.0+). */
export type SearchRequest =
  | { store: 'GAL'; query: string; range?: string }
  | {
      store: 'Mailbox';
      freeText: string;
      collectionId?: string;
      class?: string;
      range?: string;
      deepTraversal?: boolean;
      bodyPreferences?: BodyPreference[];
    };

export interface SearchHit {
  class?: string;
  longId?: string;
  collectionId?: string;
  /** GAL: DisplayName, EmailAddress, Phone, ...; Mailbox: the item's fields. */
  data: ItemData;
}

export interface SearchResult {
  /** The Search status and the Store status (1 success; MS-ASCMD 2.2.3.177.13). */
  status: number;
  storeStatus?: number;
  results: SearchHit[];
  range?: string;
  total?: number;
  raw?: WbxmlElement;
}

export function searchRequest(version: string, request: SearchRequest): WbxmlElement {
  if (request.store === 'GAL') {
    return SR.Search(
      SR.Store(SR.Name('GAL'), SR.Query(request.query), SR.Options(SR.Range(request.range ?? '0-99'))),
    );
  }
  return SR.Search(
    SR.Store(
      SR.Name('Mailbox'),
      SR.Query(
        SR.And(
          request.class !== undefined && AS.Class(request.class),
          request.collectionId !== undefined && AS.CollectionId(request.collectionId),
          SR.FreeText(request.freeText),
        ),
      ),
      SR.Options(
        SR.Range(request.range ?? '0-99'),
        request.deepTraversal && SR.DeepTraversal(),
        atLeast(version, '12.0') &&
          (request.bodyPreferences ?? []).map((preference) =>
            ASB.BodyPreference(
              ASB.Type(preference.type),
              preference.truncationSize !== undefined && ASB.TruncationSize(preference.truncationSize),
            ),
          ),
      ),
    ),
  );
}

export function readSearch(body: WbxmlElement | undefined): SearchResult {
  if (!body) return { status: 0, results: [] };
  const store = body.child('Search:Response')?.child('Search:Store');
  const storeStatus = intOf(store, 'Search:Status');
  const range = store?.textOf('Search:Range');
  const total = intOf(store, 'Search:Total');
  return {
    status: intOf(body, 'Search:Status') ?? 0,
    ...(storeStatus !== undefined ? { storeStatus } : {}),
    results: (store?.all('Search:Result') ?? [])
      .filter((result) => result.children.length > 0)
      .map((result) => {
        const properties = result.child('Search:Properties');
        const hit: SearchHit = {
          data: properties ? readItemData(properties) : { fields: {}, attachments: [], raw: result },
        };
        const itemClass = result.textOf('AirSync:Class');
        if (itemClass !== undefined) hit.class = itemClass;
        const longId = result.textOf('Search:LongId');
        if (longId !== undefined) hit.longId = longId;
        const collectionId = result.textOf('AirSync:CollectionId');
        if (collectionId !== undefined) hit.collectionId = collectionId;
        return hit;
      }),
    ...(range !== undefined ? { range } : {}),
    ...(total !== undefined ? { total } : {}),
    raw: body,
  };
}

export interface ResolveRecipientsOptions {
  /** 1 none, 2 full certificates, 3 mini certificates. */
  certificateRetrieval?: 1 | 2 | 3;
  maxAmbiguousRecipients?: number;
  /** 14.0+: free/busy between these times. */
  availability?: { startTime: Date; endTime: Date };
}

export interface ResolvedRecipient {
  /** 1 from the directory, 2 from the user's contacts. */
  type?: number;
  displayName?: string;
  emailAddress?: string;
  /** Availability digits, one per 30 minutes: 0 free, 1 tentative, 2 busy, 3 away, 4 no data. */
  mergedFreeBusy?: string;
  availabilityStatus?: number;
  certificateStatus?: number;
  certificates: string[];
}

export interface ResolveRecipientsResult {
  status: number;
  responses: { to: string; status: number; recipients: ResolvedRecipient[] }[];
  raw?: WbxmlElement;
}

/** MS-ASDTYPE date-time as EAS writes it in requests: `2026-11-25T14:00:00.000Z`. */
function easDate(date: Date): string {
  return date.toISOString();
}

export function resolveRecipientsRequest(
  version: string,
  to: string[],
  options: ResolveRecipientsOptions = {},
): WbxmlElement {
  const availability = options.availability && atLeast(version, '14.0') ? options.availability : undefined;
  return RR.ResolveRecipients(
    to.map((name) => RR.To(name)),
    RR.Options(
      options.certificateRetrieval !== undefined && RR.CertificateRetrieval(options.certificateRetrieval),
      options.maxAmbiguousRecipients !== undefined &&
        RR.MaxAmbiguousRecipients(options.maxAmbiguousRecipients),
      availability &&
        RR.Availability(
          RR.StartTime(easDate(availability.startTime)),
          RR.EndTime(easDate(availability.endTime)),
        ),
    ),
  );
}

export function readResolveRecipients(body: WbxmlElement | undefined): ResolveRecipientsResult {
  if (!body) return { status: 0, responses: [] };
  return {
    status: intOf(body, 'ResolveRecipients:Status') ?? 0,
    responses: body.all('ResolveRecipients:Response').map((response) => ({
      to: response.textOf('ResolveRecipients:To') ?? '',
      status: intOf(response, 'ResolveRecipients:Status') ?? 0,
      recipients: response.all('ResolveRecipients:Recipient').map((recipient) => {
        const resolved: ResolvedRecipient = { certificates: [] };
        const type = intOf(recipient, 'ResolveRecipients:Type');
        if (type !== undefined) resolved.type = type;
        const displayName = recipient.textOf('ResolveRecipients:DisplayName');
        if (displayName !== undefined) resolved.displayName = displayName;
        const emailAddress = recipient.textOf('ResolveRecipients:EmailAddress');
        if (emailAddress !== undefined) resolved.emailAddress = emailAddress;
        const availability = recipient.child('ResolveRecipients:Availability');
        const availabilityStatus = intOf(availability, 'ResolveRecipients:Status');
        if (availabilityStatus !== undefined) resolved.availabilityStatus = availabilityStatus;
        const mergedFreeBusy = availability?.textOf('ResolveRecipients:MergedFreeBusy');
        if (mergedFreeBusy !== undefined) resolved.mergedFreeBusy = mergedFreeBusy;
        const certificates = recipient.child('ResolveRecipients:Certificates');
        const certificateStatus = intOf(certificates, 'ResolveRecipients:Status');
        if (certificateStatus !== undefined) resolved.certificateStatus = certificateStatus;
        for (const certificate of certificates?.children ?? []) {
          if (certificate.name === 'Certificate' || certificate.name === 'MiniCertificate') {
            resolved.certificates.push(certificate.text ?? '');
          }
        }
        return resolved;
      }),
    })),
    raw: body,
  };
}
