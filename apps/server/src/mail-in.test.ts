import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MailIn, startMailIn } from './mail-in.js';

describe('the SMTP listener', () => {
  let mailIn: MailIn;
  const delivered: { users: readonly string[]; mime: string; from: string | undefined }[] = [];
  let failNext = false;

  beforeAll(async () => {
    mailIn = await startMailIn({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: 64 * 1024,
      resolveRecipient: async (address) =>
        ({ 'alice@example.com': 'alice', 'a.smith@example.org': 'alice', 'bob@example.com': 'bob' })[
          address.toLowerCase()
        ],
      deliver: async (users, mime, envelope) => {
        if (failNext) {
          failNext = false;
          throw new Error('store down');
        }
        delivered.push({ users, mime: Buffer.from(mime).toString('utf8'), from: envelope.from });
      },
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(() => mailIn.close());

  const transport = () =>
    createTransport({ host: '127.0.0.1', port: mailIn.port, secure: false, ignoreTLS: true });

  it('delivers to local addresses and aliases, once per user', async () => {
    await transport().sendMail({
      envelope: {
        from: 'sender@remote.test',
        to: ['alice@example.com', 'A.Smith@example.org', 'bob@example.com'],
      },
      raw: 'From: sender@remote.test\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n',
    });
    const last = delivered.at(-1)!;
    expect([...last.users].sort()).toEqual(['alice', 'bob']);
    expect(last.from).toBe('sender@remote.test');
    expect(last.mime).toContain('Subject: hi');
  });

  it('refuses unknown recipients at RCPT time and delivers to the rest', async () => {
    const before = delivered.length;
    const info = await transport().sendMail({
      envelope: { from: 'sender@remote.test', to: ['nobody@example.com', 'bob@example.com'] },
      raw: 'Subject: partly\r\n\r\nx\r\n',
    });
    expect(info.rejected).toEqual(['nobody@example.com']);
    expect(delivered.length).toBe(before + 1);
    await expect(
      transport().sendMail({ envelope: { from: 'a@remote.test', to: ['nobody@example.com'] }, raw: 'x\r\n' }),
    ).rejects.toThrow(/550/);
  });

  it('refuses oversized messages and delivers nothing', async () => {
    const before = delivered.length;
    await expect(
      transport().sendMail({
        envelope: { from: 'a@remote.test', to: ['alice@example.com'] },
        raw: `Subject: big\r\n\r\n${'x'.repeat(100 * 1024)}\r\n`,
      }),
    ).rejects.toThrow(/552/);
    expect(delivered.length).toBe(before);
  });

  it('answers a temporary failure when the store fails, so the sender retries', async () => {
    failNext = true;
    await expect(
      transport().sendMail({ envelope: { from: 'a@remote.test', to: ['alice@example.com'] }, raw: 'x\r\n' }),
    ).rejects.toThrow(/451/);
  });
});
