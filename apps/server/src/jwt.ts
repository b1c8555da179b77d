import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EasAuthenticator, MailboxIdentity } from '@easkit/eas-commands';
import type { MailboxStore } from '@easkit/mailbox';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { resolveAccount } from './authenticator.js';
import { ExpiringMap } from './remembered.js';

export interface JwtAuthenticatorOptions {
  /** A JWKS document (`{"keys": [...]}`) with the issuer's public keys, read from a file at start. */
  jwksFile: string;
  /** Tokens must carry this `iss`. */
  issuer: string;
  /** Tokens must carry this `aud`. */
  audience: string;
  /** The claim naming the mailbox (an address or alias). Default `email`, else `preferred_username`, `upn`. */
  claim?: string;
  mailbox: MailboxStore;
  defaultDomain?: string;
  /** Allowed clock difference; default 60 s. */
  clockToleranceSec?: number;
  /**
   * How long the mailbox a checked token names is remembered (a device sends the same token with every
   * request): an account renamed or an alias removed is noticed within this time. The token's signature is
   * checked once until its `exp` (or, without one, for this long). Never past `exp`. Default 60 s; 0 turns both
   * memories off.
   */
  rememberMs?: number;
  /** At most this many tokens are remembered (oldest forgotten first). Default 100,000. */
  maxRemembered?: number;
  now?: () => number;
}

/**
 * OAuth2 bearer tokens (as Outlook mobile sends them to Exchange Online) checked offline: the JWT's signature
 * against a configured JWKS file, then `iss`, `aud`, `exp`/`nbf`, then the mailbox named by the claim.
 * Anything else (Basic credentials, an unknown user, a bad token) is "not this authenticator's", so it composes
 * with the password authenticator through {@link firstAuthenticator}.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): EasAuthenticator {
  const jwks = createLocalJWKSet(JSON.parse(readFileSync(options.jwksFile, 'utf8')) as JSONWebKeySet);
  const claims = options.claim ? [options.claim] : ['email', 'preferred_username', 'upn'];
  const now = options.now ?? Date.now;
  const rememberMs = options.rememberMs ?? 60_000;
  const maxRemembered = rememberMs > 0 ? (options.maxRemembered ?? 100_000) : 0;
  // Two memories: a token's signature and claims stay valid until its exp (the keys come from a file read at
  // start), the mailbox it names is looked up again after rememberMs.
  const verified = new ExpiringMap<Record<string, unknown>>(maxRemembered, now);
  const identities = new ExpiringMap<MailboxIdentity>(maxRemembered, now);
  return async (credentials) => {
    if (credentials.scheme !== 'bearer') return undefined;
    const tokenKey = createHash('sha256').update(credentials.token).digest('base64');
    const known = identities.get(tokenKey);
    if (known) return known;
    let payload = verified.get(tokenKey);
    if (!payload) {
      try {
        ({ payload } = await jwtVerify(credentials.token, jwks, {
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: options.clockToleranceSec ?? 60,
          currentDate: new Date(now()),
        }));
      } catch {
        return undefined;
      }
    }
    // Not past exp: the token would be refused from then on (the clock tolerance only excuses skew).
    const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
    verified.set(tokenKey, payload, expiresAt === Number.POSITIVE_INFINITY ? now() + rememberMs : expiresAt);
    const name = claims
      .map((claim) => payload[claim])
      .find((value): value is string => typeof value === 'string');
    if (!name) return undefined;
    const user = await resolveAccount(options.mailbox, name, options.defaultDomain);
    if (!user) return undefined;
    const identity: MailboxIdentity = {
      userId: user.id,
      addresses: [user.primarySmtpAddress, ...user.aliases],
    };
    identities.set(tokenKey, identity, Math.min(now() + rememberMs, expiresAt));
    return identity;
  };
}

/** Tries each authenticator in turn; the first identity wins. */
export function firstAuthenticator(...authenticators: EasAuthenticator[]): EasAuthenticator {
  return async (credentials, request) => {
    for (const authenticate of authenticators) {
      const identity = await authenticate(credentials, request);
      if (identity) return identity;
    }
    return undefined;
  };
}
