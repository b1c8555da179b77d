import { searchWords } from './search.js';
import type { User } from './store.js';

/**
 * One person or mailbox in the directory (the EAS Global Address List), with the fields of the GAL code page.
 * `id` is stable and opaque; pass it to `photo` and `certificates`.
 */
export interface DirectoryEntry {
  readonly id: string;
  readonly displayName: string;
  /** The primary SMTP address. */
  readonly emailAddress: string;
  /** Other SMTP addresses of the same mailbox. */
  readonly aliases: readonly string[];
  /** `gal:Alias`, the mail nickname. */
  readonly alias?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly title?: string;
  readonly company?: string;
  readonly office?: string;
  /** `gal:Phone`, the business number. */
  readonly phone?: string;
  readonly homePhone?: string;
  readonly mobilePhone?: string;
}

export interface DirectorySearchOptions {
  /** Entries to skip, in result order; default 0. */
  readonly offset?: number;
  /** At most this many entries (1 or more). */
  readonly limit: number;
}

export interface DirectorySearchResult {
  readonly entries: DirectoryEntry[];
  /** How many entries match in all. */
  readonly total: number;
}

/**
 * The address book behind GAL search, ResolveRecipients and Find: who is in the organisation, their photos
 * and their S/MIME certificates. The default, {@link UserDirectory}, lists the server's own users; a deployment
 * with LDAP or another directory implements this interface instead. Guarantees:
 *
 * - `search` matches a query as a prefix: of the display name, of any word of the display, first or last
 *   name or alias, of any SMTP address, or (for a query of digits and phone punctuation) of the digits of
 *   any phone number; every word of a multi-word query must match. Case and accents are ignored and no
 *   character of the query is a pattern. Results are ordered by display name, then id, so paging with
 *   `offset` is stable.
 * - `resolve` finds the entry owning exactly this address (primary or alias, case-insensitive).
 * - Answers cost an index lookup, never a scan of the directory per request.
 */
export interface Directory {
  search(query: string, options: DirectorySearchOptions): Promise<DirectorySearchResult>;
  resolve(address: string): Promise<DirectoryEntry | undefined>;
  /** The entry's photo (JPEG or PNG bytes), or undefined when it has none. */
  photo(entryId: string): Promise<Uint8Array | undefined>;
  /** The entry's X.509 certificates for S/MIME, DER-encoded; empty when it has none. */
  certificates(entryId: string): Promise<Uint8Array[]>;
}

/** What a directory knows about a user beyond the mailbox's `User` record. */
export interface DirectoryProfile {
  firstName?: string;
  lastName?: string;
  title?: string;
  company?: string;
  office?: string;
  phone?: string;
  homePhone?: string;
  mobilePhone?: string;
  alias?: string;
  photo?: Uint8Array;
  /** DER-encoded certificates. */
  certificates?: Uint8Array[];
}

/** A source of the server's users: `MemoryMailboxStore` has `listUsers`; another store can add it. */
export interface UserListing {
  listUsers(): Promise<User[]>;
}

export interface UserDirectoryOptions {
  readonly users: UserListing;
  /** Extra fields, photo and certificates per user (e.g. {@link MemoryDirectoryProfiles}`.get`). */
  readonly profile?: (user: User) => DirectoryProfile | undefined | Promise<DirectoryProfile | undefined>;
  /** The index is rebuilt from `users` when older than this; default 60 s. `invalidate()` forces it. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** Profiles kept in memory, by user id: for tests, development and small servers. */
export class MemoryDirectoryProfiles {
  readonly #profiles = new Map<string, DirectoryProfile>();
  set(userId: string, profile: DirectoryProfile): void {
    this.#profiles.set(userId, structuredClone(profile));
  }
  readonly get = (user: User): DirectoryProfile | undefined => {
    const profile = this.#profiles.get(user.id);
    return profile && structuredClone(profile);
  };
}

interface Indexed {
  readonly entry: DirectoryEntry;
  readonly photo: Uint8Array | undefined;
  readonly certificates: Uint8Array[];
}

/** Sorted (key, entry index) pairs, for prefix ranges by binary search. */
class PrefixIndex {
  readonly #keys: string[] = [];
  readonly #owners: number[] = [];
  constructor(pairs: [string, number][]) {
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    for (const [key, owner] of pairs) {
      this.#keys.push(key);
      this.#owners.push(owner);
    }
  }
  owners(prefix: string): Set<number> {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#keys[mid]! < prefix) low = mid + 1;
      else high = mid;
    }
    const result = new Set<number>();
    for (let i = low; i < this.#keys.length && this.#keys[i]!.startsWith(prefix); i++) {
      result.add(this.#owners[i]!);
    }
    return result;
  }
}

function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .trim();
}

const PHONE_QUERY = /^[\d\s+\-().]+$/;

function digits(text: string): string {
  return text.replace(/\D+/g, '');
}

interface Built {
  readonly at: number;
  readonly entries: Indexed[];
  readonly byId: Map<string, Indexed>;
  readonly byAddress: Map<string, Indexed>;
  readonly whole: PrefixIndex;
  readonly words: PrefixIndex;
  readonly phones: PrefixIndex;
}

/**
 * The default {@link Directory}: the server's users (display name, primary address and aliases) with the
 * fields, photo and certificates of an optional profile. It keeps a prefix index in memory, rebuilt from
 * `users.listUsers()` when older than `maxAgeMs` or after `invalidate()`.
 */
export class UserDirectory implements Directory {
  readonly #options: UserDirectoryOptions;
  #built: Promise<Built> | undefined;

  constructor(options: UserDirectoryOptions) {
    this.#options = options;
  }

  /** Makes the next call rebuild the index (after users or profiles changed). */
  invalidate(): void {
    this.#built = undefined;
  }

  async search(query: string, options: DirectorySearchOptions): Promise<DirectorySearchResult> {
    const built = await this.#index();
    const matches = new Set<number>();
    const whole = fold(query);
    if (whole !== '') for (const owner of built.whole.owners(whole)) matches.add(owner);
    const words = searchWords(query, 17);
    if (words.length > 0 && words.length <= 16) {
      const parts = words.map((word) => built.words.owners(word)).sort((a, b) => a.size - b.size);
      const [smallest, ...rest] = parts;
      for (const owner of smallest!) if (rest.every((part) => part.has(owner))) matches.add(owner);
    }
    const number = digits(query);
    if (number.length > 0 && PHONE_QUERY.test(query)) {
      for (const owner of built.phones.owners(number)) matches.add(owner);
    }
    const ordered = [...matches].sort((a, b) => a - b); // entries are stored in result order
    const offset = options.offset ?? 0;
    return {
      total: ordered.length,
      entries: ordered
        .slice(offset, offset + options.limit)
        .map((i) => structuredClone(built.entries[i]!.entry)),
    };
  }

  async resolve(address: string): Promise<DirectoryEntry | undefined> {
    const found = (await this.#index()).byAddress.get(address.trim().toLowerCase());
    return found && structuredClone(found.entry);
  }

  async photo(entryId: string): Promise<Uint8Array | undefined> {
    return (await this.#index()).byId.get(entryId)?.photo?.slice();
  }

  async certificates(entryId: string): Promise<Uint8Array[]> {
    return ((await this.#index()).byId.get(entryId)?.certificates ?? []).map((der) => der.slice());
  }

  #index(): Promise<Built> {
    const now = (this.#options.now ?? Date.now)();
    const maxAge = this.#options.maxAgeMs ?? 60_000;
    const current = this.#built;
    if (current) {
      return current.then((built) => {
        if (now - built.at <= maxAge) return built;
        if (this.#built === current) this.#built = this.#build(now);
        return this.#built!;
      });
    }
    this.#built = this.#build(now);
    this.#built.catch(() => {
      this.#built = undefined;
    });
    return this.#built;
  }

  async #build(at: number): Promise<Built> {
    const users = await this.#options.users.listUsers();
    const indexed: Indexed[] = [];
    for (const user of users) {
      const profile = (await this.#options.profile?.(user)) ?? {};
      const displayName =
        user.displayName ??
        ([profile.firstName, profile.lastName].filter(Boolean).join(' ') || user.primarySmtpAddress);
      const entry: DirectoryEntry = {
        id: user.id,
        displayName,
        emailAddress: user.primarySmtpAddress,
        aliases: [...user.aliases],
        ...pick(profile, ['alias', 'firstName', 'lastName', 'title', 'company', 'office']),
        ...pick(profile, ['phone', 'homePhone', 'mobilePhone']),
      };
      indexed.push({ entry, photo: profile.photo, certificates: profile.certificates ?? [] });
    }
    indexed.sort((a, b) => {
      const byName = fold(a.entry.displayName).localeCompare(fold(b.entry.displayName));
      return byName !== 0 ? byName : a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0;
    });
    const whole: [string, number][] = [];
    const words: [string, number][] = [];
    const phones: [string, number][] = [];
    const byAddress = new Map<string, Indexed>();
    indexed.forEach(({ entry }, i) => {
      whole.push([fold(entry.displayName), i]);
      for (const address of [entry.emailAddress, ...entry.aliases]) {
        whole.push([address.toLowerCase(), i]);
        byAddress.set(address.toLowerCase(), indexed[i]!);
      }
      const named = [entry.displayName, entry.firstName, entry.lastName, entry.alias];
      for (const text of named) if (text) for (const word of searchWords(text)) words.push([word, i]);
      for (const phone of [entry.phone, entry.homePhone, entry.mobilePhone]) {
        const number = phone ? digits(phone) : '';
        if (number) phones.push([number, i]);
      }
    });
    return {
      at,
      entries: indexed,
      byId: new Map(indexed.map((item) => [item.entry.id, item])),
      byAddress,
      whole: new PrefixIndex(whole),
      words: new PrefixIndex(words),
      phones: new PrefixIndex(phones),
    };
  }
}

function pick<K extends keyof DirectoryProfile>(
  profile: DirectoryProfile,
  keys: K[],
): Partial<DirectoryProfile> {
  const out: Partial<DirectoryProfile> = {};
  for (const key of keys) if (profile[key] !== undefined) out[key] = profile[key];
  return out;
}
