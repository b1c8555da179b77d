import { eas, type WbxmlElement } from '@easkit/wbxml';
import { intOf } from './items.js';

const { FolderHierarchy: FH, ValidateCert: VC, Find: F, AirSync: AS } = eas;

/** What FolderCreate, FolderUpdate and FolderDelete answer (MS-ASCMD 2.2.1.2-2.2.1.4). */
export interface FolderChangeResult {
  /** 1 success; 2 name taken, 3 special folder, 4 not found, 5 parent not found, 9 bad sync key, ... */
  status: number;
  /** The hierarchy's new sync key, on success. */
  syncKey?: string;
  /** FolderCreate: the new folder's id. */
  serverId?: string;
}

export function folderCreateRequest(
  syncKey: string,
  parentId: string,
  displayName: string,
  type: number,
): WbxmlElement {
  return FH.FolderCreate(
    FH.SyncKey(syncKey),
    FH.ParentId(parentId),
    FH.DisplayName(displayName),
    FH.Type(type),
  );
}

export function folderUpdateRequest(
  syncKey: string,
  serverId: string,
  parentId: string,
  displayName: string,
): WbxmlElement {
  return FH.FolderUpdate(
    FH.SyncKey(syncKey),
    FH.ServerId(serverId),
    FH.ParentId(parentId),
    FH.DisplayName(displayName),
  );
}

export function folderDeleteRequest(syncKey: string, serverId: string): WbxmlElement {
  return FH.FolderDelete(FH.SyncKey(syncKey), FH.ServerId(serverId));
}

export function readFolderChange(body: WbxmlElement | undefined): FolderChangeResult {
  const syncKey = body?.textOf('FolderHierarchy:SyncKey');
  const serverId = body?.textOf('FolderHierarchy:ServerId');
  return {
    status: intOf(body, 'FolderHierarchy:Status') ?? 0,
    ...(syncKey !== undefined ? { syncKey } : {}),
    ...(serverId !== undefined ? { serverId } : {}),
  };
}

/** ValidateCert (MS-ASCMD 2.2.1.22): certificates as DER bytes; the chain's intermediates in `chain`. */
export interface ValidateCertRequest {
  certificates: Uint8Array[];
  chain?: Uint8Array[];
  /** Ask the server to check revocation (CheckCRL 1). */
  checkCrl?: boolean;
}

export interface ValidateCertResult {
  /** 1 the request was understood; 2 protocol error; 3 server error. */
  status: number;
  /** Per certificate, in order: 1 valid; 7 untrusted root, 8 expired, 13 revoked, 16 revocation unknown, ... */
  certificates: number[];
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export function validateCertRequest(request: ValidateCertRequest): WbxmlElement {
  return VC.ValidateCert(
    request.chain?.length
      ? VC.CertificateChain(request.chain.map((cert) => VC.Certificate(base64(cert))))
      : null,
    VC.Certificates(request.certificates.map((cert) => VC.Certificate(base64(cert)))),
    request.checkCrl ? VC.CheckCRL('1') : null,
  );
}

export function readValidateCert(body: WbxmlElement | undefined): ValidateCertResult {
  return {
    status: intOf(body, 'ValidateCert:Status') ?? 0,
    certificates: (body?.all('ValidateCert:Certificate') ?? []).map(
      (certificate) => intOf(certificate, 'ValidateCert:Status') ?? 0,
    ),
  };
}

/** Find (16.1, MS-ASCMD 2.2.1.6): a mail search in one folder or a GAL search, with a range. */
export interface FindRequest {
  /** Any unique id of the search. */
  searchId: string;
  /** `mail` in `collectionId` (and its subfolders with `deepTraversal`), or `gal`. */
  kind: 'mail' | 'gal';
  query: string;
  collectionId?: string;
  deepTraversal?: boolean;
  /** e.g. `0-24`. */
  range?: string;
}

export interface FindResult {
  status: number;
  /** The whole number of matches, when the server says. */
  total?: number;
  /** Each result's ServerId (mail) or properties as text (GAL), in order. */
  results: { serverId?: string; collectionId?: string; properties: Record<string, string> }[];
}

export function findRequest(request: FindRequest): WbxmlElement {
  const criteria =
    request.kind === 'mail'
      ? F.MailBoxSearchCriterion(
          F.Query(
            F.FreeText(request.query),
            request.collectionId !== undefined ? AS.CollectionId(request.collectionId) : null,
          ),
          F.Options(
            request.range ? F.Range(request.range) : null,
            request.deepTraversal ? F.DeepTraversal() : null,
          ),
        )
      : F.GalSearchCriterion(
          F.Query(F.FreeText(request.query)),
          F.Options(request.range ? F.Range(request.range) : null),
        );
  return F.Find(F.SearchId(request.searchId), F.ExecuteSearch(criteria));
}

export function readFind(body: WbxmlElement | undefined): FindResult {
  const response = body?.child('Find:Response');
  const total = intOf(response, 'Find:Total');
  return {
    status: intOf(body, 'Find:Status') ?? intOf(response, 'Find:Status') ?? 0,
    ...(total !== undefined ? { total } : {}),
    results: (response?.all('Find:Result') ?? []).map((result) => {
      const properties: Record<string, string> = {};
      for (const property of result.child('Find:Properties')?.children ?? []) {
        if (typeof property.content === 'string') properties[property.name] = property.content;
      }
      const serverId = result.textOf('AirSync:ServerId');
      const collectionId = result.textOf('AirSync:CollectionId');
      return {
        ...(serverId !== undefined ? { serverId } : {}),
        ...(collectionId !== undefined ? { collectionId } : {}),
        properties,
      };
    }),
  };
}
