import { describe, expect, it } from 'vitest';
import { messageFacts, messageKey, parseDate } from './message.js';

const encode = (lines: string[]) => new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\nbody\r\n`);

describe('messageFacts', () => {
  it('reads the Message-ID, the newest Received time and the Date', () => {
    const facts = messageFacts(
      encode([
        'Received: from b by c; Tue, 07 Jan 2025 10:00:05 +0100',
        'Received: from a by b; Tue, 07 Jan 2025 10:00:01 +0100',
        'Date: Tue, 07 Jan 2025 09:59:00 +0100 (CET)',
        'Message-ID:',
        '  <folded@example.com>',
      ]),
    );
    expect(facts).toEqual({
      messageId: 'folded@example.com',
      received: new Date('2025-01-07T09:00:05Z'),
      date: new Date('2025-01-07T08:59:00Z'),
    });
  });

  it('reads the state mbox writers leave in headers', () => {
    expect(messageFacts(encode(['Status: RO', 'X-Status: AF']))).toEqual({
      read: true,
      answered: true,
      flagged: true,
    });
    expect(messageFacts(encode(['Status: O']))).toEqual({ read: false });
    expect(messageFacts(encode(['X-Mozilla-Status: 0003']))).toEqual({ read: true, answered: true });
    expect(messageFacts(encode(['X-Mozilla-Status: 0008']))).toEqual({ read: false, deleted: true });
    expect(messageFacts(encode(['X-Gmail-Labels: Inbox,Unread,Starred']))).toEqual({
      read: false,
      flagged: true,
    });
    expect(messageFacts(encode(['X-Gmail-Labels: Archived,Opened']))).toEqual({ read: true });
  });

  it('throws for bytes without a header block', () => {
    expect(() => messageFacts(new Uint8Array([0, 1, 2, 0x0a, 0x0a]))).toThrow(/header/);
  });
});

describe('messageKey and parseDate', () => {
  it('keys by Message-ID, or by content when there is none', () => {
    const mime = encode(['Subject: x']);
    expect(messageKey(mime, { messageId: 'a@b' })).toBe('id:a@b');
    expect(messageKey(mime, {})).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(messageKey(mime, {})).not.toBe(messageKey(encode(['Subject: y']), {}));
  });

  it('refuses unreadable dates and years EAS cannot carry', () => {
    expect(parseDate('not a date')).toBeUndefined();
    expect(parseDate('Mon, 01 Jan 1500 00:00:00 +0000')).toBeUndefined();
    expect(parseDate('Mon, 06 Jan 2025 00:00:00 GMT')).toEqual(new Date('2025-01-06T00:00:00Z'));
  });
});
