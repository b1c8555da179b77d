import type { AddressInfo } from 'node:net';
import { configFromEnv, type EasApp, startApp } from '@easkit/server';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';

export interface SunkMessage {
  from: string;
  recipients: string[];
  message: string;
}

/** An SMTP server that keeps what it is sent: the reference server's relay in these tests. */
export class SmtpSink {
  readonly received: SunkMessage[] = [];
  readonly #server: SMTPServer;
  port = 0;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            recipients: session.envelope.rcptTo.map((entry) => entry.address),
            message: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** The reference server in this process: memory storage, the demo account (password `pw`), relay to `sink`. */
export async function startReferenceServer(sink?: SmtpSink): Promise<EasApp> {
  return startApp(
    configFromEnv({
      EASKIT_PORT: '0',
      EASKIT_STORAGE: 'memory',
      EASKIT_DEMO_PASSWORD: 'pw',
      EASKIT_LOG_LEVEL: 'silent',
      ...(sink ? { EASKIT_SMTP_HOST: '127.0.0.1', EASKIT_SMTP_PORT: String(sink.port) } : {}),
    }),
    pino({ level: 'silent' }),
  );
}

/** Resolves once the server holds a waiting Ping or hanging Sync (read from its metrics, no fixed sleep). */
export async function untilWaiting(url: string): Promise<void> {
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const match = /^easkit_waiting_requests (\d+)/m.exec(metrics);
    if (match && Number(match[1]) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
