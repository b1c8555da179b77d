import type { UserId } from '@easkit/mailbox';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface MailInOptions {
  host: string;
  port: number;
  /** Messages above this size are refused (552) and nothing is delivered. */
  maxMessageBytes: number;
  /** The local user an address belongs to (aliases included), or undefined: refused at RCPT time (550). */
  resolveRecipient: (address: string) => Promise<UserId | undefined>;
  /** Files the message into each user's mailbox (and wakes their devices). */
  deliver: (
    users: readonly UserId[],
    mime: Uint8Array,
    envelope: { from: string | undefined },
  ) => Promise<void>;
  logger: Logger;
  onMessage?: (outcome: 'delivered' | 'rejected' | 'failed') => void;
  /** The name in the greeting; default `easkit`. */
  serverName?: string;
}

export interface MailIn {
  /** The port actually bound. */
  readonly port: number;
  close(): Promise<void>;
}

class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface SessionState {
  users: Set<UserId>;
}

/**
 * An SMTP listener (smtp-server) that accepts mail for local addresses only: unknown recipients are refused at
 * RCPT time, oversized messages at DATA, and a message is acknowledged only after it is in every recipient's
 * mailbox. No relaying and no authentication: it is the last hop (an MX, or an MTA's local transport).
 */
export async function startMailIn(options: MailInOptions): Promise<MailIn> {
  const sessions = new WeakMap<SMTPServerSession, SessionState>();
  const stateOf = (session: SMTPServerSession): SessionState => {
    let state = sessions.get(session);
    if (!state) {
      state = { users: new Set() };
      sessions.set(session, state);
    }
    return state;
  };
  const server = new SMTPServer({
    name: options.serverName ?? 'easkit',
    banner: 'easkit mail in',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: options.maxMessageBytes,
    logger: false,
    onMailFrom(_address, session, callback) {
      stateOf(session).users.clear();
      callback();
    },
    onRcptTo(address, session, callback) {
      options.resolveRecipient(address.address).then(
        (user) => {
          if (!user) {
            callback(new SmtpReply(550, `5.1.1 <${address.address}>: no such user here`));
            return;
          }
          stateOf(session).users.add(user);
          callback();
        },
        (error: unknown) => {
          options.logger.error({ err: error }, 'recipient lookup failed');
          callback(new SmtpReply(451, '4.3.0 temporary failure, try again later'));
        },
      );
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= options.maxMessageBytes) chunks.push(chunk);
      });
      stream.on('end', () => {
        if (stream.sizeExceeded || size > options.maxMessageBytes) {
          options.onMessage?.('rejected');
          callback(new SmtpReply(552, '5.3.4 message too big'));
          return;
        }
        const users = [...stateOf(session).users];
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined;
        options.deliver(users, new Uint8Array(Buffer.concat(chunks)), { from }).then(
          () => {
            options.onMessage?.('delivered');
            options.logger.info({ from, to: users, bytes: size }, 'mail delivered');
            callback();
          },
          (error: unknown) => {
            options.onMessage?.('failed');
            options.logger.error({ err: error, from, to: users }, 'mail delivery failed');
            callback(new SmtpReply(451, '4.3.0 delivery failed, try again later'));
          },
        );
      });
      stream.on('error', (error: Error) => {
        options.onMessage?.('failed');
        callback(error);
      });
    },
  });
  server.on('error', (error: Error) => options.logger.warn({ err: error }, 'SMTP connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
