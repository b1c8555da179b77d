import { createHash } from 'node:crypto';
import {
  type EmailAddress,
  type EmailData,
  type Folder,
  FolderType,
  type Importance,
  type MailboxStore,
  NotFoundError,
  type StoredItem,
  type User,
  type UserId,
} from '@easkit/mailbox';
import type { PushBus } from '@easkit/push';
import {
  checkMimeStructure,
  decodeEncodedWords,
  headerAddresses,
  headerValues,
  InvalidMessageError,
  type MailSubmission,
  type MailSubmitter,
  type RawHeaderField,
  splitMessage,
  UnresolvedRecipientError,
} from './mail-submitter.js';

/** What a delivery hook is told about one copy of a message being filed for one user. */
export interface DeliveryContext {
  readonly mailbox: MailboxStore;
  readonly user: User;
  /** The message as filed. */
  readonly mime: Uint8Array;
  /** Its header fields, folding kept (see `splitMessage`). */
  readonly fields: readonly RawHeaderField[];
  /** The envelope recipient this copy is for, when known (the SMTP `RCPT TO` or the SendMail recipient). */
  readonly recipient: string | undefined;
  readonly now: Date;
  /** The user's Inbox, where a plain delivery files the message. */
  readonly inbox: Folder;
}

/**
 * Extension points of local delivery, e.g. for calendaring: `prepare` may turn an iCalendar invitation into a
 * meeting request (`messageClass`, `meetingRequest`) before it is filed; `onDelivered` may then create or
 * update the calendar item. Hooks run in the order given, for every recipient's copy.
 */
export interface DeliveryHooks {
  /** Adjusts the Email before it is filed. A throw refuses this copy (the error reaches the caller). */
  prepare?(data: EmailData, context: DeliveryContext): EmailData | Promise<EmailData>;
  /**
   * Runs after the copy is filed. A throw does not undo the delivery: it goes to `onError` and later hooks
   * still run.
   */
  onDelivered?(item: StoredItem & { class: 'Email' }, context: DeliveryContext): void | Promise<void>;
}

export interface DeliverOptions {
  readonly hooks?: readonly DeliveryHooks[];
  /**
   * Files the prepared Email instead of the default (`createItem` in the user's Inbox) and returns the filed
   * item. This is where calendaring takes over a message whole, e.g.
   * `file: (email, c) => deliverMeetingMail(c.mailbox, c.user.id, c.mime, { email, now: c.now }).then((r) => r.message)`.
   */
  readonly file?: (data: EmailData, context: DeliveryContext) => Promise<StoredItem>;
  /**
   * Publishes the Inbox change for Direct Push. Leave it out when `mailbox` is already a `publishingMailbox`
   * of @easkit/push (which publishes every write itself).
   */
  readonly bus?: PushBus;
  /** Remembers users' Inboxes between deliveries (one fewer read per message); without it every delivery looks. */
  readonly inboxes?: InboxCache;
  /** The envelope recipient this copy is for; a recipient named in neither To nor Cc was Bcc'd. */
  readonly recipient?: string;
  /** Largest message accepted, in bytes; default 32 MiB. */
  readonly maxBytes?: number;
  readonly now?: () => Date;
  /** Failures after the message was filed (a hook, the push publish). */
  readonly onError?: (error: unknown) => void;
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Files one message into a user's Inbox on this server: reads the header fields into the Email model (the raw
 * MIME stays the source of truth: the store derives bodies and attachments from it), runs the `prepare`
 * hooks, files the item (`options.file`, or a plain create in the Inbox), publishes the change when a bus is
 * given, then runs the `onDelivered` hooks.
 * Local delivery from SendMail and the server's SMTP listener both go through here.
 * @throws InvalidMessageError `invalid-mime` (no header block, too large, a MIME bomb); NotFoundError `user` or `folder`
 * (no such user, or a user without an Inbox).
 */
export async function deliverMessage(
  mailbox: MailboxStore,
  user: User | UserId,
  mime: Uint8Array,
  options: DeliverOptions = {},
): Promise<StoredItem & { class: 'Email' }> {
  if (mime.byteLength > (options.maxBytes ?? DEFAULT_MAX_BYTES)) {
    throw new InvalidMessageError('invalid-mime', 'the message is larger than this server accepts');
  }
  const owner = typeof user === 'string' ? await mailbox.getUser(user) : user;
  const now = options.now?.() ?? new Date();
  checkMimeStructure(mime);
  const message = splitMessage(mime);
  const remembered = options.inboxes?.get(owner.id);
  const inbox = remembered ?? (await findInbox(mailbox, owner.id, options.inboxes));
  let context: DeliveryContext = {
    mailbox,
    user: owner,
    mime,
    fields: message.fields,
    recipient: options.recipient,
    now,
    inbox,
  };
  let data = emailFromHeaders(message.fields, mime, now, options.recipient);
  for (const hook of options.hooks ?? []) if (hook.prepare) data = await hook.prepare(data, context);
  const file = (into: DeliveryContext) =>
    options.file
      ? options.file(data, into)
      : mailbox.createItem(owner.id, into.inbox.id, { class: 'Email', data });
  let filed: StoredItem;
  try {
    filed = await file(context);
  } catch (error) {
    // A remembered Inbox that is gone (the folder was replaced): forget it, look again, file once more.
    if (!(remembered && error instanceof NotFoundError && error.entity === 'folder')) throw error;
    options.inboxes?.forget(owner.id);
    context = { ...context, inbox: await findInbox(mailbox, owner.id, options.inboxes) };
    filed = await file(context);
  }
  if (filed.class !== 'Email') throw new Error('delivery filed something other than a message');
  const item = filed;
  if (options.bus) {
    await options.bus
      .publish(owner.id, [item.folderId], item.modseq)
      .catch((error) => options.onError?.(error));
  }
  for (const hook of options.hooks ?? []) {
    if (!hook.onDelivered) continue;
    try {
      await hook.onDelivered(item, context);
    } catch (error) {
      options.onError?.(error);
    }
  }
  return item;
}

async function findInbox(
  mailbox: MailboxStore,
  user: UserId,
  inboxes: InboxCache | undefined,
): Promise<Folder> {
  const inbox = (await mailbox.listFolders(user)).find((folder) => folder.type === FolderType.Inbox);
  if (!inbox) throw new NotFoundError('folder', `${user}: Inbox`);
  inboxes?.remember(user, inbox);
  return inbox;
}

/**
 * Each user's Inbox as the last delivery found it, so that deliveries to the same user do not list the
 * user's folders every time. Bounded (the oldest entry goes first) and each entry is trusted for `ttlMs` only.
 * A delivery that finds a remembered Inbox gone forgets it and looks again, so a stale entry costs one retry.
 */
export class InboxCache {
  readonly #entries = new Map<UserId, { folder: Folder; until: number }>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; ttlMs?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxEntries >= 1 && this.#ttlMs >= 0)) throw new RangeError('InboxCache: bad options');
  }

  get(user: UserId): Folder | undefined {
    const entry = this.#entries.get(user);
    if (entry === undefined) return undefined;
    if (entry.until > this.#now()) return entry.folder;
    this.#entries.delete(user);
    return undefined;
  }

  remember(user: UserId, folder: Folder): void {
    this.#entries.delete(user);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(user, { folder, until: this.#now() + this.#ttlMs });
  }

  forget(user: UserId): void {
    this.#entries.delete(user);
  }

  /** How many users are remembered now. */
  get size(): number {
    return this.#entries.size;
  }
}

/** The Email model of a received message, from its header fields. */
export function emailFromHeaders(
  fields: readonly RawHeaderField[],
  mime: Uint8Array,
  now: Date,
  recipient?: string,
): EmailData {
  const first = (name: string) => headerAddresses(fields, name).map(toEmailAddress)[0];
  const list = (name: string) => headerAddresses(fields, name).map(toEmailAddress);
  const subjectValue = headerValues(fields, 'Subject')[0];
  const subject = subjectValue === undefined ? '' : decodeEncodedWords(subjectValue);
  const data: EmailData = {
    mime,
    subject,
    dateReceived: now,
    read: false,
    messageClass: messageClassOf(headerValues(fields, 'Content-Type')[0] ?? ''),
    contentClass: 'urn:content-classes:message',
  };
  const from = first('From');
  if (from) data.from = from;
  const sender = first('Sender');
  if (sender && sender.address.toLowerCase() !== from?.address.toLowerCase()) data.sender = sender;
  const to = list('To');
  const cc = list('Cc');
  const replyTo = list('Reply-To');
  if (to.length) {
    data.to = to;
    data.displayTo = to.map((address) => address.name || address.address).join('; ');
  }
  if (cc.length) data.cc = cc;
  if (replyTo.length) data.replyTo = replyTo;
  const topicValue = headerValues(fields, 'Thread-Topic')[0];
  const threadTopic = topicValue === undefined ? stripPrefixes(subject) : decodeEncodedWords(topicValue);
  data.threadTopic = threadTopic;
  // One conversation per topic, as clients group them (MS-ASCON ConversationId is an opaque 16 bytes).
  data.conversationId = new Uint8Array(createHash('md5').update(threadTopic.toLowerCase()).digest());
  const importance = importanceOf(fields);
  if (importance !== undefined) data.importance = importance;
  if (recipient !== undefined) {
    const named = [...to, ...cc].some((address) => address.address.toLowerCase() === recipient.toLowerCase());
    if (!named) data.receivedAsBcc = true;
  }
  return data;
}

function toEmailAddress(address: { name: string; address: string }): EmailAddress {
  return address.name ? { name: address.name, address: address.address } : { address: address.address };
}

function stripPrefixes(subject: string): string {
  return subject.replace(/^(\s*(re|fw|fwd|aw|wg|sv|vs)(\[\d+\])?\s*:\s*)+/i, '').trim();
}

/** S/MIME messages get the message classes clients look for (MS-ASEMAIL MessageClass). */
function messageClassOf(contentType: string): string {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/signed') return 'IPM.Note.SMIME.MultipartSigned';
  if (type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime') return 'IPM.Note.SMIME';
  return 'IPM.Note';
}

function importanceOf(fields: readonly RawHeaderField[]): Importance | undefined {
  const named = (headerValues(fields, 'Importance')[0] ?? '').trim().toLowerCase();
  if (named === 'high') return 2;
  if (named === 'low') return 0;
  if (named === 'normal') return 1;
  const priority = /^\s*(\d)/.exec(headerValues(fields, 'X-Priority')[0] ?? '')?.[1];
  if (priority === undefined) return undefined;
  const level = Number(priority);
  return level <= 2 ? 2 : level >= 4 ? 0 : 1;
}

// --- The submitter ----------------------------------------------------------------------------------------

export interface LocalDeliveryOptions extends Omit<DeliverOptions, 'recipient'> {
  readonly mailbox: MailboxStore;
  /**
   * Where mail for recipients who are not users of this server goes (e.g. `smtpSubmitter`). Without it a
   * message with any such recipient is refused as a whole, before anything is delivered.
   */
  readonly relay?: MailSubmitter;
  /**
   * Domains whose every address must be a user of this server: a recipient there that no user owns is refused
   * (SendMail Status 116) instead of being relayed. Default: the domains of the sender's own addresses.
   */
  readonly localDomains?: readonly string[];
}

/**
 * A {@link MailSubmitter} (the issue's `MailTransport`) that files messages into the recipients' mailboxes on
 * this server. Recipients are resolved with `MailboxStore.resolveAddress` (primary addresses and aliases,
 * case-insensitively); a user named twice (say, by an alias and by the primary address) gets one copy.
 *
 * Every recipient is resolved before anything is delivered. The message is refused as a whole with
 * {@link UnresolvedRecipientError} when a recipient in a local domain is nobody's address, or when a recipient
 * is remote and there is no relay. Otherwise the remote recipients are handed to the relay first, in one
 * submission, so that a relay failure still means nothing was sent; then each local user gets a copy. Once
 * the relay has the message, a failure to file a local copy is reported to `onError` rather than thrown (the
 * contract forbids throwing after part of the message went out), and the other copies are still filed.
 */
export function localDeliverySubmitter(options: LocalDeliveryOptions): MailSubmitter {
  const { mailbox, relay } = options;
  return {
    async submit(submission: MailSubmission): Promise<void> {
      if (submission.recipients.length === 0) {
        throw new InvalidMessageError('no-recipients', 'the message has no recipients');
      }
      // Readable before anyone gets it: a message without a header block is refused here, not half-delivered.
      splitMessage(submission.mime);
      const local = new Map<UserId, { user: User; recipient: string }>();
      const remote: string[] = [];
      const unknownLocal: string[] = [];
      const localDomains = await domainsOf(submission.from);
      for (const recipient of submission.recipients) {
        const user = await mailbox.resolveAddress(recipient);
        if (user) {
          if (!local.has(user.id)) local.set(user.id, { user, recipient });
          continue;
        }
        const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
        if (localDomains.has(domain)) unknownLocal.push(recipient);
        else remote.push(recipient);
      }
      if (unknownLocal.length > 0) {
        throw new UnresolvedRecipientError(unknownLocal, 'no user of this server has that address');
      }
      if (remote.length > 0) {
        if (!relay) throw new UnresolvedRecipientError(remote, 'this server delivers only to its own users');
        await relay.submit({ from: submission.from, recipients: remote, mime: submission.mime });
      }
      let sent = remote.length > 0;
      for (const { user, recipient } of local.values()) {
        try {
          await deliverMessage(mailbox, user, submission.mime, { ...options, recipient });
          sent = true;
        } catch (error) {
          // Before anything went out, refuse the whole message; after, report and carry on.
          if (!sent) throw error;
          options.onError?.(error);
        }
      }
    },
  };

  async function domainsOf(from: string): Promise<Set<string>> {
    if (options.localDomains) return new Set(options.localDomains.map((domain) => domain.toLowerCase()));
    const sender = await mailbox.resolveAddress(from);
    const addresses = sender ? [sender.primarySmtpAddress, ...sender.aliases] : [];
    return new Set(addresses.map((address) => address.slice(address.lastIndexOf('@') + 1).toLowerCase()));
  }
}
