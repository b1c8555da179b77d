import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll } from '../../test/harness.js';
import { LookupServer } from '../../test/lookup-server.js';
import { parseCrl, ValidateCertStatus as Status } from './validate-cert.js';

const { ValidateCert: VC } = eas;

/** A small PKI made with openssl in a scratch folder: root → intermediate → leaves, a stranger root, CRLs. */
class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'easkit-pki-'));
  #serial = 100;

  run(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  file(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  der(name: string): string {
    const pem = this.file(name);
    return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  }

  write(name: string, text: string): void {
    writeFileSync(join(this.dir, name), text);
  }

  key(name: string): void {
    this.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  }

  root(name: string, subject: string): void {
    this.key(name);
    this.run(
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '3650',
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  }

  /** A certificate for `name` signed by `issuer`. */
  issue(name: string, subject: string, issuer: string, extensions: string, days = 365): void {
    this.key(name);
    this.run('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    this.write(`${name}.ext`, extensions);
    this.run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-set_serial',
      String(++this.#serial),
      '-out',
      `${name}.pem`,
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
    );
  }

  /** A CRL of `issuer` listing `revoked` certificates. */
  crl(issuer: string, revoked: string[]): string {
    const config = `${issuer}-ca.cnf`;
    this.write(`${issuer}-index.txt`, '');
    this.write(`${issuer}-crlnumber`, '01\n');
    this.write(
      config,
      [
        '[ca]',
        'default_ca = ca_section',
        '[ca_section]',
        `database = ${issuer}-index.txt`,
        `crlnumber = ${issuer}-crlnumber`,
        'default_md = sha256',
        'default_crl_days = 30',
        '',
      ].join('\n'),
    );
    for (const name of revoked) {
      this.run(
        'ca',
        '-config',
        config,
        '-keyfile',
        `${issuer}.key`,
        '-cert',
        `${issuer}.pem`,
        '-revoke',
        `${name}.pem`,
      );
    }
    this.run(
      'ca',
      '-config',
      config,
      '-keyfile',
      `${issuer}.key`,
      '-cert',
      `${issuer}.pem`,
      '-gencrl',
      '-out',
      `${issuer}.crl`,
    );
    return this.file(`${issuer}.crl`);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
const LEAF_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n';

const pki = new Pki();
let server: LookupServer;
/** The server's clock: now, unless a test moves it. */
let clock: number | undefined;

beforeAll(async () => {
  pki.root('root', '/CN=Easkit Test Root');
  pki.issue('int', '/CN=Easkit Test Intermediate', 'root', CA_EXT, 3000);
  pki.issue('good', '/CN=Alice/emailAddress=alice@example.com', 'int', LEAF_EXT);
  pki.issue('short', '/CN=Shortlived', 'int', LEAF_EXT, 1);
  pki.issue('revoked', '/CN=Revoked', 'int', LEAF_EXT);
  pki.issue('server', '/CN=Web Server', 'int', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  pki.issue('notca', '/CN=Not A CA', 'int', LEAF_EXT);
  pki.issue('undernotca', '/CN=Under Not A CA', 'notca', LEAF_EXT);
  pki.root('stranger', '/CN=Stranger Root');
  pki.issue('strangerleaf', '/CN=Mallory', 'stranger', LEAF_EXT);
  // A leaf naming the real intermediate as issuer, signed by another key under the same name.
  pki.root('impostor', '/CN=Easkit Test Intermediate');
  pki.issue('forged', '/CN=Forged', 'impostor', LEAF_EXT);
  const intCrl = pki.crl('int', ['revoked']);
  const rootCrl = pki.crl('root', []);
  server = await new LookupServer({
    trustStore: { anchors: [pki.file('root.pem')], crls: [intCrl, rootCrl] },
    options: { validateCert: { now: () => new Date(clock ?? Date.now()) } },
  }).start();
});

afterAll(async () => {
  await server.stop();
  pki.remove();
});

const validate = (certificates: string[], chain: string[] = ['int'], checkCrl?: number) =>
  VC.ValidateCert(
    chain.length > 0
      ? VC.CertificateChain(chain.map((name) => VC.Certificate(pki.der(`${name}.pem`))))
      : null,
    VC.Certificates(certificates.map((name) => VC.Certificate(pki.der(`${name}.pem`)))),
    checkCrl === undefined ? null : VC.CheckCRL(checkCrl),
  );

async function statuses(
  body: WbxmlElement,
  version: '2.5' | '12.1' | '14.1' | '16.1' = '14.1',
): Promise<number[]> {
  const reply = await server.send('ValidateCert', body, { version });
  expect(reply.status).toBe(200);
  expect(reply.body?.intOf('Status')).toBe(Status.Success);
  return reply.body!.all('Certificate').map((certificate) => certificate.intOf('Status')!);
}

describe('ValidateCert', () => {
  it('accepts a good chain in every version and rejects untrusted, forged and misused ones', async () => {
    for (const version of ['2.5', '12.1', '14.1', '16.1'] as const) {
      expect(await statuses(validate(['good']), version)).toEqual([Status.Success]);
    }
    expect(
      await statuses(
        validate(['good', 'strangerleaf', 'forged', 'server', 'undernotca'], ['int', 'stranger', 'notca']),
      ),
    ).toEqual([
      Status.Success,
      Status.UntrustedRoot,
      Status.SignatureInvalid,
      Status.NotForEmailSigning,
      Status.WrongUsage,
    ]);
    // Without the intermediate the chain cannot be completed.
    expect(await statuses(validate(['good'], []))).toEqual([Status.UntrustedRoot]);
    // A root the store trusts is valid on its own.
    expect(await statuses(validate(['root'], []))).toEqual([Status.Success]);
  });

  it('answers 7 for an expired certificate', async () => {
    expect(await statuses(validate(['short', 'good']))).toEqual([Status.Success, Status.Success]);
    clock = Date.now() + 3 * 86_400_000;
    try {
      expect(await statuses(validate(['short', 'good']))).toEqual([Status.Expired, Status.Success]);
    } finally {
      clock = undefined;
    }
  });

  it('checks revocation against the configured CRLs', async () => {
    expect(await statuses(validate(['revoked', 'good'], ['int'], 1))).toEqual([
      Status.Revoked,
      Status.Success,
    ]);
    expect(parseCrl(Buffer.from(pki.der('int.crl'), 'base64')).revoked.size).toBe(1);
  });

  it('answers protocol errors and unreadable certificates without crashing', async () => {
    const status = async (body: WbxmlElement) =>
      (await server.send('ValidateCert', body)).body?.intOf('Status');
    expect(await status(VC.ValidateCert())).toBe(Status.ProtocolError);
    expect(await status(VC.ValidateCert(VC.Certificates()))).toBe(Status.ProtocolError);
    const many = VC.ValidateCert(VC.Certificates(Array.from({ length: 101 }, () => VC.Certificate('AA=='))));
    expect(await status(many)).toBe(Status.ProtocolError);
    const junk = VC.ValidateCert(VC.Certificates(VC.Certificate('not base64 !!'), VC.Certificate('MIIB')));
    expect(await statuses(junk)).toEqual([Status.MissingInformation, Status.MissingInformation]);
  });

  it('responses are read by libwbxml', async () => {
    await expectLibwbxmlReadsAll(server.responses, 7);
  });
});

describe('ValidateCert without CRLs', () => {
  it('reports an unknown revocation status only when CheckCRL asks for it', async () => {
    const bare = await new LookupServer({ trustStore: { anchors: [pki.file('root.pem')] } }).start();
    try {
      const send = async (checkCrl: number) =>
        (await bare.send('ValidateCert', validate(['good'], ['int'], checkCrl)))
          .body!.all('Certificate')
          .map((certificate) => certificate.intOf('Status'));
      expect(await send(0)).toEqual([Status.Success]);
      expect(await send(1)).toEqual([Status.RevocationUnknown]);
    } finally {
      await bare.stop();
    }
  });
});
