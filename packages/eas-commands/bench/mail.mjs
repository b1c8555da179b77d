// Deterministic mail for the Sync benchmark. A seeded PRNG picks sizes, words, names and dates, so every run
// stores the same bytes and figures are comparable between runs and machines.

/** Mulberry32: a tiny, well-mixed 32-bit PRNG; enough to vary text, and reproducible. */
export function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the meeting agenda budget review quarterly report please find attached thanks regards project ' +
  'deadline tomorrow update schedule customer invoice draft proposal team lunch office server release ' +
  'notes feedback question answer call monday friday week month plan design test deploy ticket issue ' +
  'résumé café naïve Grüße über straße – “quoted” ok'
).split(' ');
const FIRST = ['Anna', 'Bernd', 'Chloé', 'David', 'Eva', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas'];
const LAST = ['Müller', 'Smith', 'Dubois', 'Tanaka', 'Rossi', 'Novak', 'García', 'Berg', 'Okafor', 'Lind'];
const DOMAINS = ['example.com', 'contoso.test', 'fabrikam.test', 'mail.example.org'];

const encoder = new TextEncoder();
const pick = (random, list) => list[Math.floor(random() * list.length)];

function person(random) {
  const first = pick(random, FIRST);
  const last = pick(random, LAST);
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^\x20-\x7e]/g, '')
    .toLowerCase();
  return { name: `${first} ${last}`, email: `${local}@${pick(random, DOMAINS)}` };
}

/** An RFC 2047 encoded-word when the text is not plain ASCII. */
function headerText(text) {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

function address({ name, email }) {
  return `${headerText(name)} <${email}>`;
}

/** Text of about `bytes` UTF-8 bytes, in paragraphs of a few sentences. */
function prose(random, bytes) {
  const paragraphs = [];
  let size = 0;
  while (size < bytes) {
    const sentences = [];
    const count = 2 + Math.floor(random() * 4);
    for (let s = 0; s < count; s++) {
      const words = [];
      const length = 6 + Math.floor(random() * 12);
      for (let w = 0; w < length; w++) words.push(pick(random, WORDS));
      const sentence = words.join(' ');
      sentences.push(`${sentence[0].toUpperCase()}${sentence.slice(1)}.`);
    }
    const paragraph = sentences.join(' ');
    paragraphs.push(paragraph);
    size += encoder.encode(paragraph).length + 2;
  }
  return paragraphs;
}

/** Lines of at most 76 characters, as mail wants them. */
function wrap(text, width = 76) {
  const lines = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line.length > 0 && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line.length > 0 ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.join('\r\n');
}

/** Quoted-printable (RFC 2045 6.7) of UTF-8 text, soft line breaks at 76. */
function quotedPrintable(text) {
  const out = [];
  for (const line of text.split('\n')) {
    let encoded = '';
    let width = 0;
    for (const byte of encoder.encode(line)) {
      const literal = byte >= 33 && byte <= 126 && byte !== 61;
      const piece =
        literal || byte === 32
          ? String.fromCharCode(byte)
          : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      if (width + piece.length > 75) {
        encoded += '=\r\n';
        width = 0;
      }
      encoded += piece;
      width += piece.length;
    }
    if (encoded.endsWith(' ')) encoded = `${encoded.slice(0, -1)}=20`;
    out.push(encoded);
  }
  return out.join('\r\n');
}

function base64Lines(bytes) {
  const text = Buffer.from(bytes).toString('base64');
  const lines = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join('\r\n');
}

function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const BASE_DATE = Date.UTC(2025, 0, 6, 8, 0, 0);

/**
 * The i-th message of the benchmark Inbox: the whole message is 2-20 KB; about half are plain text, a third
 * HTML (multipart/alternative, quoted-printable), and the rest carry a binary attachment (multipart/mixed,
 * base64) that takes part of the size. Returns the `EmailData` the store wants, MIME included.
 */
export function inboxMessage(index, owner) {
  const random = prng(0x5eed0000 + index);
  const target = 2048 + Math.floor(random() * (20480 - 2048));
  const roll = random();
  const kind = roll < 0.5 ? 'plain' : roll < 0.85 ? 'html' : 'attachment';
  const from = person(random);
  const subject = `${pick(random, ['Re: ', 'Fwd: ', '', '', ''])}${prose(random, 1)[0].slice(0, 60)}`;
  const date = new Date(BASE_DATE + index * 7 * 60 * 1000);
  const boundary = `=_bench_${index.toString(36)}_${Math.floor(random() * 1e9).toString(36)}`;
  const headers = [
    `From: ${address(from)}`,
    `To: ${address(owner)}`,
    `Subject: ${headerText(subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <bench.${index}@${from.email.split('@')[1]}>`,
    'MIME-Version: 1.0',
  ];
  // Headers and MIME framing take roughly this much; the body fills the rest of the target size.
  const overhead = 400;
  let body;
  if (kind === 'plain') {
    const text = wrap(prose(random, target - overhead).join('\n\n'));
    body = ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text];
  } else if (kind === 'html') {
    // Plain and HTML alternatives of the same text share the size.
    const paragraphs = prose(random, Math.max(400, (target - overhead) / 2.4));
    const plain = wrap(paragraphs.join('\n\n'));
    const html = `<html><head><meta charset="utf-8"></head><body>\n${paragraphs
      .map((p) => `<p style="margin:0 0 1em 0">${escapeHtml(p)}</p>`)
      .join('\n')}\n</body></html>`;
    body = [
      `Content-Type: multipart/alternative; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      plain,
      `--${boundary}`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      quotedPrintable(html),
      `--${boundary}--`,
    ];
  } else {
    const attachmentBytes = Math.floor(((target - overhead) * 0.6) / 1.37);
    const attachment = new Uint8Array(attachmentBytes);
    for (let i = 0; i < attachment.length; i++) attachment[i] = Math.floor(random() * 256);
    const text = wrap(prose(random, target - overhead - attachmentBytes * 1.37).join('\n\n'));
    const name = `${pick(random, ['report', 'invoice', 'scan', 'slides', 'photo'])}-${index}.${pick(random, ['pdf', 'bin', 'jpg'])}`;
    body = [
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      `--${boundary}`,
      `Content-Type: application/octet-stream; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(attachment),
      `--${boundary}--`,
    ];
  }
  const mime = encoder.encode([...headers, ...body, ''].join('\r\n'));
  return {
    mime,
    from: { name: from.name, address: from.email },
    to: [{ name: owner.name, address: owner.email }],
    subject,
    dateReceived: date,
    displayTo: owner.name,
    read: random() < 0.6,
    messageClass: 'IPM.Note',
    internetCPID: 65001,
    contentClass: 'urn:content-classes:message',
  };
}

/** A small plain-text message (about 300 bytes), for folders whose size, not content, is being measured. */
export function smallMessage(index, owner) {
  const date = new Date(BASE_DATE + index * 60 * 1000);
  const subject = `Notification ${index}`;
  const mime = encoder.encode(
    [
      'From: Notifier <noreply@example.com>',
      `To: <${owner.email}>`,
      `Subject: ${subject}`,
      `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Event ${index} happened.`,
      '',
    ].join('\r\n'),
  );
  return {
    mime,
    from: { name: 'Notifier', address: 'noreply@example.com' },
    to: [{ address: owner.email }],
    subject,
    dateReceived: date,
    read: true,
    messageClass: 'IPM.Note',
  };
}
