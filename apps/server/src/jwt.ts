import { readFileSync } from 'node:fs';
import type { EasAuthenticator } from '@easkit/eas-commands';
import type { MailboxStore } from '@easkit/mailbox';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { resolveAccount } from './authenticator.js';

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
  return async (credentials) => {
    if (credentials.scheme !== 'bearer') return undefined;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(credentials.token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSec ?? 60,
      }));
    } catch {
      return undefined;
    }
    const name = claims
      .map((claim) => payload[claim])
      .find((value): value is string => typeof value === 'string');
    if (!name) return undefined;
    const user = await resolveAccount(options.mailbox, name, options.defaultDomain);
    return user ? { userId: user.id, addresses: [user.primarySmtpAddress, ...user.aliases] } : undefined;
  };
}

/** Tries each authenticator in turn; the first identity wins. */
export function firstAuthenticator(...authenticators: EasAuthenticator[]): EasAuthenticator {
  return async (credentials) => {
    for (const authenticate of authenticators) {
      const identity = await authenticate(credentials);
      if (identity) return identity;
    }
    return undefined;
  };
}
