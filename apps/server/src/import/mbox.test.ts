import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MboxEntry, NotMboxError, postmarkDate, readMbox } from './mbox.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const POSTMARK = 'From sender@example.com Thu Jan  2 10:00:00 2025';

/** An mboxrd writer, as the tests' reference: quote every />*From / line, end each message with a blank line. */
function writeMboxrd(messages: readonly string[]): string {
  return messages
    .map((message) => {
      const eol = message.includes('\r\n') ? '\r\n' : '\n';
      const quoted = message.replace(/^(>*From )/gm, '>$1');
      const ended = quoted.endsWith('\n') ? quoted : `${quoted}${eol}`;
      return `${POSTMARK}${eol}${ended}${eol}`;
    })
    .join('');
}

async function* chunksOf(bytes: Uint8Array, cuts: readonly number[] = []): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= start || cut >= bytes.length) continue;
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

async function readAll(text: string | Uint8Array, maxMessageBytes = 1 << 20, cuts: number[] = []) {
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  const entries: MboxEntry[] = [];
  for await (const entry of readMbox(chunksOf(bytes, cuts), { maxMessageBytes })) entries.push(entry);
  return entries;
}

function textOf(entry: MboxEntry): string {
  if ('tooLarge' in entry) throw new Error(`message ${entry.index} too large`);
  return decoder.decode(entry.mime);
}

describe('readMbox', () => {
  it('splits on From lines, undoes one level of quoting and drops the blank line before each separator', async () => {
    const entries = await readAll(
      [
        POSTMARK,
        'Subject: one',
        '',
        '>From quoted',
        '>>From twice',
        '>not a From line',
        '',
        'From b@example.com Fri Jan  3 11:00:00 2025',
        'Subject: two',
        '',
        'body',
        '',
      ].join('\n'),
    );
    expect(entries.map(textOf)).toEqual([
      'Subject: one\n\nFrom quoted\n>From twice\n>not a From line\n',
      'Subject: two\n\nbody\n',
    ]);
    expect(entries.map((entry) => entry.index)).toEqual([1, 2]);
    expect(entries[1]).toMatchObject({ postmark: 'b@example.com Fri Jan  3 11:00:00 2025' });
    expect('deliveredAt' in entries[1]! && entries[1].deliveredAt).toEqual(new Date('2025-01-03T11:00:00Z'));
  });

  it('keeps CRLF line ends and reads a last message that has no final line break', async () => {
    const entries = await readAll(
      `${POSTMARK}\r\nSubject: a\r\n\r\nx\r\n\r\n${POSTMARK}\r\nSubject: b\r\n\r\nno newline`,
    );
    expect(entries.map(textOf)).toEqual(['Subject: a\r\n\r\nx\r\n', 'Subject: b\r\n\r\nno newline']);
  });

  it('allows blank lines before the first separator and refuses anything else there', async () => {
    expect((await readAll(`\n\n${POSTMARK}\nSubject: a\n\nx\n`)).map(textOf)).toEqual(['Subject: a\n\nx\n']);
    await expect(readAll('Subject: not an mbox\n\nFrom x\n')).rejects.toBeInstanceOf(NotMboxError);
    await expect(readAll(new Uint8Array([0, 1, 2, 3, 0xff, 0x0a]))).rejects.toBeInstanceOf(NotMboxError);
  });

  it('reports an oversized message without holding it, and reads the next one', async () => {
    const big = 'x'.repeat(5000);
    const text = `${POSTMARK}\nSubject: big\n\n${big}\n${big}\n\n${POSTMARK}\nSubject: small\n\nok\n`;
    const stats = { peakBufferedBytes: 0 };
    const entries: MboxEntry[] = [];
    for await (const entry of readMbox(chunksOf(encoder.encode(text), [100, 2000, 7000]), {
      maxMessageBytes: 1000,
      stats,
    })) {
      entries.push(entry);
    }
    expect(entries[0]).toMatchObject({ index: 1, tooLarge: true });
    expect(textOf(entries[1]!)).toBe('Subject: small\n\nok\n');
    expect(stats.peakBufferedBytes).toBeLessThanOrEqual(1000);
  });

  it('survives a single line far longer than the limit (a binary blob without line breaks)', async () => {
    const blob = new Uint8Array(50_000).fill(0x41);
    const bytes = new Uint8Array([...encoder.encode(`${POSTMARK}\nSubject: blob\n\n`), ...blob]);
    const entries = await readAll(bytes, 1000, [30, 10_000, 20_000, 40_000]);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ tooLarge: true });
  });

  it('reads postmark dates in the forms writers use', () => {
    expect(postmarkDate('MAILER-DAEMON Thu Jan  1 00:00:00 1970')).toEqual(new Date(0));
    expect(postmarkDate('- Mon Feb 03 14:05:06 2025')).toEqual(new Date('2025-02-03T14:05:06Z'));
    expect(postmarkDate('1234@xxx Sat Mar 15 08:00:00 +0000 2025')).toEqual(new Date('2025-03-15T08:00:00Z'));
    expect(postmarkDate('someone without a date')).toBeUndefined();
  });

  it('round-trips any messages through mboxrd quoting, whatever the chunk boundaries (fast-check)', async () => {
    const line = fc.oneof(
      fc.constantFrom(
        'From me to you',
        '>From quoted',
        '>>From twice',
        '>>>From x',
        '',
        'From',
        ' From x',
        '>',
      ),
      fc.string({ maxLength: 30 }).map((text) => text.replace(/[\r\n]/g, ' ')),
      fc.string({ maxLength: 10 }).map((text) => `From ${text.replace(/[\r\n]/g, ' ')}`),
    );
    const message = fc
      .record({
        subject: fc.string({ maxLength: 20 }).map((text) => text.replace(/[\r\n]/g, ' ')),
        body: fc.array(line, { maxLength: 12 }),
        crlf: fc.boolean(),
      })
      .map(({ subject, body, crlf }) => {
        const eol = crlf ? '\r\n' : '\n';
        return [`Subject: ${subject}`, '', ...body].map((entry) => `${entry}${eol}`).join('');
      });
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat({ max: 2000 }), { maxLength: 6 }),
        async (messages, cuts) => {
          const entries = await readAll(writeMboxrd(messages), 1 << 20, cuts);
          expect(entries.map(textOf)).toEqual(messages);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a 10,000-message mbox on disk', () => {
  let dir: string;
  let path: string;
  const count = 10_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'easkit-mbox-'));
    path = join(dir, 'big.mbox');
    const messages: string[] = [];
    for (let index = 0; index < count; index++) {
      messages.push(
        `Subject: message ${index}\nMessage-ID: <m${index}@example.com>\n\nline one of ${index}\nFrom the body\n${'filler '.repeat(60)}\n`,
      );
    }
    await writeFile(path, writeMboxrd(messages));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is read message by message: every message arrives, and what is held at once stays far below the file size', async () => {
    const size = (await stat(path)).size;
    const stats = { peakBufferedBytes: 0 };
    let seen = 0;
    let lastIndex = 0;
    for await (const entry of readMbox(createReadStream(path, { highWaterMark: 64 * 1024 }), {
      maxMessageBytes: 1 << 20,
      stats,
    })) {
      seen++;
      lastIndex = entry.index;
      if (seen === 5000) expect(textOf(entry)).toContain('From the body\n');
    }
    expect(seen).toBe(count);
    expect(lastIndex).toBe(count);
    expect(size).toBeGreaterThan(4_000_000);
    // One message (~600 bytes) plus at most one unfinished line of a chunk.
    expect(stats.peakBufferedBytes).toBeLessThan(64 * 1024);
  });
});
