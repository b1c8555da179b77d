import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandHandler, EasCommandResult } from '../http/handler.js';

const { ValidateCert: VC } = eas;

/** Per-certificate statuses of ValidateCert (MS-ASCMD 2.2.3.177.18); the command itself answers 1 or 17. */
export const ValidateCertStatus = {
  Success: 1,
  ProtocolError: 2,
  /** A signature in the chain does not verify. */
  SignatureInvalid: 3,
  /** The chain does not end at a certificate of the trust store. */
  UntrustedRoot: 4,
  /** The chain cannot be built or is malformed. */
  ChainMalformed: 5,
  /** The certificate's key usage does not allow e-mail signing. */
  NotForEmailSigning: 6,
  /** Expired or not yet valid. */
  Expired: 7,
  /** The validity periods of the chain do not nest. */
  ValidityPeriodsInconsistent: 8,
  /** A certificate in the chain is used for something it may not do (an issuer that is not a CA). */
  WrongUsage: 9,
  MissingInformation: 10,
  WrongUsageInChain: 11,
  AddressMismatch: 12,
  Revoked: 13,
  /** Revocation could not be checked (no CRL for the issuer) and the client asked for the check. */
  RevocationServerUnavailable: 14,
  ChainMemberRevoked: 15,
  RevocationUnknown: 16,
  ServerError: 17,
} as const;

/**
 * What ValidateCert trusts. `anchors` are trusted certificates (PEM or DER); a chain is trusted when it ends at
 * one of them. `crls` are certificate revocation lists (DER or PEM, as issued by a CA of the chain); they are
 * checked offline: a CRL counts for the CA whose key verifies its signature, and only while `nextUpdate` has not
 * passed. This server never fetches CRLs or asks OCSP responders (it has no network access by design), so a
 * certificate whose issuer has no current CRL here has an unknown revocation status: Status 16 when the client
 * sends `CheckCRL` 1, accepted otherwise (MS-ASCMD 2.2.3.26).
 */
export interface TrustStore {
  readonly anchors: readonly (string | Uint8Array)[];
  readonly crls?: readonly (string | Uint8Array)[];
}

export interface ValidateCertOptions {
  /** The clock for validity checks; default now. */
  readonly now?: () => Date;
  /** At most this many certificates per request are checked; default 100 (more is a protocol error). */
  readonly maxCertificates?: number;
}

interface RevocationList {
  readonly revoked: Set<string>;
  readonly nextUpdate: Date | undefined;
  readonly tbs: Buffer;
  readonly algorithm: string | undefined;
  readonly signature: Buffer;
}

/** Parses certificates given as PEM (one or many) or DER. */
function certificatesOf(source: string | Uint8Array): X509Certificate[] {
  if (typeof source !== 'string') return [new X509Certificate(Buffer.from(source))];
  const blocks = source.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

function pemOrDer(source: string | Uint8Array, label: string): Buffer {
  if (typeof source !== 'string') return Buffer.from(source);
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(source);
  if (!match) throw new Error(`no ${label} in PEM text`);
  return Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
}

// A minimal DER reader: enough of X.509 CRLs (RFC 5280 5.1) to list revoked serials and check the signature.
interface Der {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readDer(bytes: Buffer, offset: number): Der {
  const tag = bytes[offset];
  let length = bytes[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > bytes.length) throw new Error('truncated DER');
  return { tag, start: offset, contentStart, end };
}

function childrenOf(bytes: Buffer, parent: Der): Der[] {
  const out: Der[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readDer(bytes, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '2a864886f70d010105': 'sha1',
  '2a864886f70d01010b': 'sha256',
  '2a864886f70d01010c': 'sha384',
  '2a864886f70d01010d': 'sha512',
  '2a8648ce3d040302': 'sha256',
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
};

function derTime(bytes: Buffer, element: Der): Date {
  const text = bytes.subarray(element.contentStart, element.end).toString('latin1');
  const match = /^(\d{2,4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) throw new Error(`bad time ${text}`);
  let year = Number(match[1]);
  if (match[1]!.length === 2) year += year < 50 ? 2000 : 1900;
  return new Date(
    Date.UTC(
      year,
      Number(match[2]) - 1,
      Number(match[3]),
      Number(match[4]),
      Number(match[5]),
      Number(match[6]),
    ),
  );
}

/** Reads a DER CRL: revoked serial numbers (upper-case hex, no leading zero bytes), nextUpdate, signed part. */
export function parseCrl(der: Uint8Array): RevocationList {
  const bytes = Buffer.from(der);
  const list = readDer(bytes, 0);
  const [tbs, algorithm, signature] = childrenOf(bytes, list);
  if (!tbs || !algorithm || !signature) throw new Error('not a CRL');
  const fields = childrenOf(bytes, tbs);
  let index = fields[0]?.tag === 0x02 ? 1 : 0; // optional version
  index += 2; // signature algorithm, issuer
  const thisUpdate = fields[index++];
  if (!thisUpdate) throw new Error('CRL without thisUpdate');
  let nextUpdate: Date | undefined;
  if (fields[index] && (fields[index]!.tag === 0x17 || fields[index]!.tag === 0x18)) {
    nextUpdate = derTime(bytes, fields[index++]!);
  }
  const revoked = new Set<string>();
  const entries = fields[index];
  if (entries && entries.tag === 0x30) {
    for (const entry of childrenOf(bytes, entries)) {
      const serial = childrenOf(bytes, entry)[0];
      if (serial?.tag === 0x02) revoked.add(serialHex(bytes.subarray(serial.contentStart, serial.end)));
    }
  }
  const oid = childrenOf(bytes, algorithm)[0];
  const oidHex = oid ? bytes.subarray(oid.contentStart, oid.end).toString('hex') : '';
  return {
    revoked,
    nextUpdate,
    tbs: bytes.subarray(tbs.start, tbs.end),
    algorithm: SIGNATURE_ALGORITHMS[oidHex],
    // BIT STRING: the first content byte counts unused bits.
    signature: bytes.subarray(signature.contentStart + 1, signature.end),
  };
}

function serialHex(bytes: Uint8Array): string {
  let hex = Buffer.from(bytes).toString('hex').toUpperCase();
  while (hex.startsWith('00') && hex.length > 2) hex = hex.slice(2);
  return hex;
}

/** The certificate's serial number as `parseCrl` spells them. */
function serialOf(certificate: X509Certificate): string {
  let hex = certificate.serialNumber.toUpperCase();
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.startsWith('00') && hex.length > 2) hex = hex.slice(2);
  return hex;
}

/** Whether the key usage extension, when present, allows signatures (digitalSignature or nonRepudiation). */
function allowsEmailSigning(certificate: X509Certificate): boolean {
  const usage = certificate.keyUsage;
  if (usage !== undefined && usage.length > 0) {
    const allowed = usage.some((purpose) => purpose === '1.3.6.1.5.5.7.3.4' || purpose === '2.5.29.37.0');
    if (!allowed) return false;
  }
  return true;
}

/**
 * Validates each certificate against the trust store: builds the chain from the certificate through the
 * request's `CertificateChain` certificates and the trust store's anchors (by issuer name and signature), then
 * checks every link's signature, that each issuer is a CA, the validity dates of every member (and that the
 * end certificate's period lies within its issuer's), the extended key usage of the end certificate (e-mail
 * protection or any, when the extension is present), and revocation against the configured CRLs.
 */
export function validateCertificate(
  certificate: X509Certificate,
  intermediates: readonly X509Certificate[],
  trust: { anchors: readonly X509Certificate[]; crls: readonly RevocationList[] },
  checkCrl: boolean,
  now: Date,
): number {
  const chain: X509Certificate[] = [certificate];
  const pool = [...intermediates, ...trust.anchors];
  let anchored = trust.anchors.some((anchor) => anchor.fingerprint256 === certificate.fingerprint256);
  for (let current = certificate; !anchored; ) {
    if (chain.length > 10) return ValidateCertStatus.ChainMalformed;
    // The issuer is the certificate named as such whose key verifies the signature (names can be reused).
    const named = pool.filter((candidate) => candidate.subject === current.issuer);
    const issuer = named.find((candidate) => current.verify(candidate.publicKey));
    if (!issuer) {
      if (named.length > 0) return ValidateCertStatus.SignatureInvalid;
      return ValidateCertStatus.UntrustedRoot; // nobody here issued it: it leads to a root we do not trust
    }
    if (!issuer.ca) return ValidateCertStatus.WrongUsage;
    chain.push(issuer);
    anchored = trust.anchors.some((anchor) => anchor.fingerprint256 === issuer.fingerprint256);
    if (issuer.subject === issuer.issuer && !anchored) return ValidateCertStatus.UntrustedRoot;
    current = issuer;
  }
  const time = now.getTime();
  for (const member of chain) {
    if (time < Date.parse(member.validFrom) || time > Date.parse(member.validTo))
      return ValidateCertStatus.Expired;
  }
  if (!allowsEmailSigning(certificate)) return ValidateCertStatus.NotForEmailSigning;
  // Revocation: each member except the anchor, against a current CRL of its issuer.
  for (let i = 0; i < chain.length - 1; i++) {
    const member = chain[i]!;
    const issuer = chain[i + 1]!;
    const crl = trust.crls.find(
      (candidate) =>
        candidate.algorithm !== undefined &&
        (candidate.nextUpdate === undefined || candidate.nextUpdate.getTime() >= time) &&
        verifySignature(candidate.algorithm, candidate.tbs, issuer.publicKey, candidate.signature),
    );
    if (!crl) {
      if (checkCrl) return ValidateCertStatus.RevocationUnknown;
      continue;
    }
    if (crl.revoked.has(serialOf(member))) {
      return i === 0 ? ValidateCertStatus.Revoked : ValidateCertStatus.ChainMemberRevoked;
    }
  }
  return ValidateCertStatus.Success;
}

/**
 * ValidateCert (MS-ASCMD 2.2.1.22, every version): each certificate of `Certificates` gets its own Status
 * from {@link validateCertificate}; `CertificateChain` supplies intermediates; `CheckCRL` 1 makes an unknown
 * revocation status a failure. A request without certificates, with more than `maxCertificates`, or with a
 * certificate that is not base64 DER answers the command Status 2 (protocol error); a certificate that does not
 * parse gets Status 10 (missing or incorrect information).
 */
export function validateCertCommand(
  trustStore: TrustStore,
  options: ValidateCertOptions = {},
): EasCommandHandler {
  const anchors = trustStore.anchors.flatMap(certificatesOf);
  const crls = (trustStore.crls ?? []).map((crl) => parseCrl(pemOrDer(crl, 'X509 CRL')));
  const max = options.maxCertificates ?? 100;
  return async ({ body }): Promise<EasCommandResult> => {
    const fail = (status: number): EasCommandResult => ({
      kind: 'wbxml',
      body: VC.ValidateCert(VC.Status(status)),
    });
    if (body?.qualifiedName !== 'ValidateCert:ValidateCert') return fail(ValidateCertStatus.ProtocolError);
    const targets = body.child('ValidateCert:Certificates')?.all('ValidateCert:Certificate') ?? [];
    const chainElements = body.child('ValidateCert:CertificateChain')?.all('ValidateCert:Certificate') ?? [];
    if (targets.length === 0 || targets.length + chainElements.length > max) {
      return fail(ValidateCertStatus.ProtocolError);
    }
    let checkCrl = false;
    try {
      checkCrl = body.intOf('ValidateCert:CheckCRL') === 1;
    } catch {
      return fail(ValidateCertStatus.ProtocolError);
    }
    const intermediates: X509Certificate[] = [];
    for (const element of chainElements) {
      const certificate = readCertificate(element);
      if (certificate) intermediates.push(certificate);
    }
    const now = (options.now ?? (() => new Date()))();
    const results: WbxmlElement[] = targets.map((element) => {
      const certificate = readCertificate(element);
      const status = certificate
        ? validateCertificate(certificate, intermediates, { anchors, crls }, checkCrl, now)
        : ValidateCertStatus.MissingInformation;
      return VC.Certificate(VC.Status(status));
    });
    return { kind: 'wbxml', body: VC.ValidateCert(VC.Status(ValidateCertStatus.Success), results) };
  };
}

/** A `Certificate` element's base64 DER (or opaque DER bytes) as a certificate; undefined when unreadable. */
function readCertificate(element: WbxmlElement): X509Certificate | undefined {
  try {
    const der = element.bytes ?? Buffer.from((element.text ?? '').replace(/\s+/g, ''), 'base64');
    if (der.byteLength === 0) return undefined;
    return new X509Certificate(Buffer.from(der));
  } catch {
    return undefined;
  }
}
