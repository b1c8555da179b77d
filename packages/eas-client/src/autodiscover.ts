import { EasClientError } from './errors.js';
import type { EasCredentials, FetchFunction } from './transport.js';

const REQUEST_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006';
const RESPONSE_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const MAX_REDIRECTS = 10;

export interface AutodiscoverOptions {
  /** The password for Basic authentication with the e-mail address, or full credentials. */
  password?: string;
  credentials?: EasCredentials;
  /**
   * Tried first: an Autodiscover URL (`.../autodiscover.xml` or `.../autodiscover.json`) or a server's base
   * URL (`https://mail.example.com`), where both paths are tried.
   */
  url?: string;
  /** Also try the plain-HTTP forms of the default candidates (never for a real deployment; for tests). */
  allowHttp?: boolean;
  /** Try the JSON v2 form (`autodiscover.json?Protocol=ActiveSync`) after POX fails. Default true. */
  json?: boolean;
  fetch?: FetchFunction;
  dispatcher?: unknown;
  /** Per attempt; default 15 s. */
  timeoutMs?: number;
  /**
   * Looks up `_autodiscover._tcp.<domain>` SRV records, tried after the usual hosts (MS-OXDSCLI 3.1.5.2).
   * Default: `node:dns`; `false` skips the lookup.
   */
  resolveSrv?: ((name: string) => Promise<SrvRecord[]>) | false;
}

/** One SRV record, as `node:dns` gives it. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** One URL that was tried and what came of it, for reports. */
export interface AutodiscoverAttempt {
  url: string;
  form: 'pox' | 'json';
  outcome: 'found' | 'redirect' | 'error';
  detail?: string;
  durationMs: number;
}

export interface AutodiscoverResult {
  /** The MobileSync URL: the EAS endpoint. */
  url: string;
  form: 'pox' | 'json';
  /** The address the settings are for (after redirects). */
  emailAddress: string;
  displayName?: string;
  attempts: AutodiscoverAttempt[];
}

/** Autodiscover found no EAS URL; `attempts` says what each candidate answered. */
export class AutodiscoverError extends EasClientError {
  override readonly name: string = 'AutodiscoverError';
  constructor(
    message: string,
    readonly attempts: AutodiscoverAttempt[],
  ) {
    super(message);
  }
}

/** What a POX Autodiscover answer says (MS-ASCMD 2.2.1.1.2). */
export type PoxAnswer =
  | { kind: 'settings'; url: string; emailAddress?: string; displayName?: string }
  | { kind: 'redirect'; emailAddress: string }
  | { kind: 'error'; code?: string; message: string };

/**
 * Finds the EAS URL of an address the way devices do (MS-ASCMD 2.2.1.1, MS-OXDSCLI): POX mobilesync requests
 * to the given URL, `https://<domain>/autodiscover/autodiscover.xml` and
 * `https://autodiscover.<domain>/autodiscover/autodiscover.xml`, following `Redirect` answers to another
 * address, then the JSON v2 form. The first URL that answers a MobileSync setting wins.
 */
export async function autodiscover(
  emailAddress: string,
  options: AutodiscoverOptions = {},
): Promise<AutodiscoverResult> {
  const attempts: AutodiscoverAttempt[] = [];
  const fetcher = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  let address = emailAddress;
  for (let redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
    const credentials = options.credentials ?? { username: address, password: options.password ?? '' };
    let redirected = false;
    for await (const candidate of allCandidates(address, options)) {
      const started = performance.now();
      const attempt = (outcome: AutodiscoverAttempt['outcome'], detail?: string) => {
        attempts.push({
          url: candidate.url,
          form: candidate.form,
          outcome,
          ...(detail !== undefined ? { detail } : {}),
          durationMs: performance.now() - started,
        });
      };
      try {
        if (candidate.form === 'pox') {
          const answer = await poxRequest(fetcher, candidate.url, address, credentials, options);
          if (answer.kind === 'settings') {
            attempt('found', answer.url);
            return {
              url: answer.url,
              form: 'pox',
              emailAddress: answer.emailAddress ?? address,
              ...(answer.displayName ? { displayName: answer.displayName } : {}),
              attempts,
            };
          }
          if (answer.kind === 'redirect') {
            attempt('redirect', answer.emailAddress);
            address = answer.emailAddress;
            redirected = true;
            break;
          }
          attempt('error', answer.code ? `error ${answer.code}: ${answer.message}` : answer.message);
        } else {
          const url = await jsonRequest(fetcher, candidate.url, address, options);
          attempt('found', url);
          return { url, form: 'json', emailAddress: address, attempts };
        }
      } catch (error) {
        attempt('error', error instanceof Error ? error.message : String(error));
      }
    }
    if (!redirected) break;
  }
  throw new AutodiscoverError(`no Autodiscover answer for ${emailAddress}`, attempts);
}

function candidates(address: string, options: AutodiscoverOptions): { url: string; form: 'pox' | 'json' }[] {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const list: { url: string; form: 'pox' | 'json' }[] = [];
  const json = options.json !== false;
  const jsonUrl = (base: string) =>
    `${base}/autodiscover/autodiscover.json?Email=${encodeURIComponent(address)}&Protocol=ActiveSync`;
  if (options.url) {
    const url = options.url.replace(/\/+$/, '');
    if (/\.xml$/i.test(url)) list.push({ url, form: 'pox' });
    else if (/\.json$/i.test(url)) {
      list.push({ url: `${url}?Email=${encodeURIComponent(address)}&Protocol=ActiveSync`, form: 'json' });
    } else {
      list.push({ url: `${url}/autodiscover/autodiscover.xml`, form: 'pox' });
      if (json) list.push({ url: jsonUrl(url), form: 'json' });
    }
  }
  if (domain && domain !== address) {
    const schemes = options.allowHttp ? ['https', 'http'] : ['https'];
    const bases = schemes.flatMap((scheme) => [
      `${scheme}://${domain}`,
      `${scheme}://autodiscover.${domain}`,
    ]);
    for (const base of bases) list.push({ url: `${base}/autodiscover/autodiscover.xml`, form: 'pox' });
    if (json) for (const base of bases) list.push({ url: jsonUrl(base), form: 'json' });
  }
  return list;
}

/** The usual candidates, then (looked up only if those are used up) the SRV hosts. */
async function* allCandidates(
  address: string,
  options: AutodiscoverOptions,
): AsyncGenerator<{ url: string; form: 'pox' | 'json' }> {
  yield* candidates(address, options);
  yield* await srvCandidates(address, options);
}

/** The hosts an `_autodiscover._tcp` SRV lookup names, best first (lowest priority, then highest weight). */
async function srvCandidates(
  address: string,
  options: AutodiscoverOptions,
): Promise<{ url: string; form: 'pox' }[]> {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (options.resolveSrv === false || !domain || domain === address) return [];
  const resolve =
    options.resolveSrv ?? (async (name: string) => (await import('node:dns/promises')).resolveSrv(name));
  let records: SrvRecord[];
  try {
    records = await resolve(`_autodiscover._tcp.${domain}`);
  } catch {
    return [];
  }
  const schemes = options.allowHttp ? ['https', 'http'] : ['https'];
  return [...records]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .flatMap((record) =>
      schemes.map((scheme) => {
        const port =
          (scheme === 'https' && record.port === 443) || (scheme === 'http' && record.port === 80)
            ? ''
            : `:${record.port}`;
        return {
          url: `${scheme}://${record.name.replace(/\.$/, '')}${port}/autodiscover/autodiscover.xml`,
          form: 'pox' as const,
        };
      }),
    );
}

async function poxRequest(
  fetcher: FetchFunction,
  url: string,
  address: string,
  credentials: EasCredentials,
  options: AutodiscoverOptions,
): Promise<PoxAnswer> {
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<Autodiscover xmlns="${REQUEST_SCHEMA}">\n  <Request>\n` +
    `    <EMailAddress>${escapeXml(address)}</EMailAddress>\n` +
    `    <AcceptableResponseSchema>${RESPONSE_SCHEMA}</AcceptableResponseSchema>\n` +
    '  </Request>\n</Autodiscover>\n';
  const authorization =
    'password' in credentials
      ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
      : `Bearer ${typeof credentials.bearer === 'function' ? await credentials.bearer() : credentials.bearer}`;
  let target = url;
  for (let hops = 0; hops < 3; hops++) {
    const response = await fetcher(target, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml; charset=utf-8', Authorization: authorization },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    } as RequestInit);
    const text = await response.text();
    if ([301, 302, 307, 308].includes(response.status)) {
      const location = response.headers.get('location');
      // Credentials are only ever sent on to an HTTPS URL.
      if (!location) throw new Error(`HTTP ${response.status} without a Location`);
      const next = new URL(location, target);
      if (next.protocol !== 'https:' && !options.allowHttp) {
        throw new Error(`HTTP ${response.status} to a non-HTTPS URL ${next.href}, not followed`);
      }
      target = next.href;
      continue;
    }
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    return parsePoxAnswer(text);
  }
  throw new Error('too many HTTP redirects');
}

async function jsonRequest(
  fetcher: FetchFunction,
  url: string,
  address: string,
  options: AutodiscoverOptions,
): Promise<string> {
  const response = await fetcher(url, {
    method: 'GET',
    headers: { Accept: 'application/json' },
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  } as RequestInit);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the answer is not JSON');
  }
  const record = value as { Protocol?: unknown; Url?: unknown };
  if (typeof record.Url !== 'string' || !/^https?:\/\//i.test(record.Url)) {
    throw new Error(`no ActiveSync Url in the answer for ${address}`);
  }
  return record.Url;
}

/** Reads a POX mobilesync answer: the MobileSync server URL, a redirect to another address, or an error. */
export function parsePoxAnswer(xml: string): PoxAnswer {
  const redirect = textOf(xml, 'Redirect');
  if (redirect) return { kind: 'redirect', emailAddress: redirect };
  for (const server of blocks(xml, 'Server')) {
    if (textOf(server, 'Type')?.toLowerCase() !== 'mobilesync') continue;
    const url = textOf(server, 'Url');
    if (url) {
      const user = blocks(xml, 'User')[0] ?? '';
      const emailAddress = textOf(user, 'EMailAddress');
      const displayName = textOf(user, 'DisplayName');
      return {
        kind: 'settings',
        url,
        ...(emailAddress ? { emailAddress } : {}),
        ...(displayName ? { displayName } : {}),
      };
    }
  }
  const error = blocks(xml, 'Error')[0];
  if (error !== undefined) {
    const code = textOf(error, 'ErrorCode') ?? textOf(error, 'Status');
    return { kind: 'error', ...(code ? { code } : {}), message: textOf(error, 'Message') ?? 'error' };
  }
  return { kind: 'error', message: 'no MobileSync server in the answer' };
}

function blocks(xml: string, name: string): string[] {
  const pattern = new RegExp(
    `<(?:[A-Za-z0-9_]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9_]+:)?${name}\\s*>`,
    'g',
  );
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? '');
}

function textOf(xml: string, name: string): string | undefined {
  const found = blocks(xml, name)[0];
  if (found === undefined || found.includes('<')) return undefined;
  return unescapeXml(found).trim() || undefined;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, hex: string) => codePoint(Number.parseInt(hex, 16)))
    .replace(/&#([0-9]{1,7});/g, (_, dec: string) => codePoint(Number.parseInt(dec, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function codePoint(code: number): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
}
