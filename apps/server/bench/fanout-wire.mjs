// What the fan-out benchmark's orchestrator and device processes share: account names, the bearer tokens the
// devices present, and a minimal HTTP/1.1 framing for one plain kept-alive socket per device (no http.Agent,
// whose per-request bookkeeping would cost more than the server's work at this scale).
import { SignJWT } from 'jose';

export const PROTOCOL_VERSION = '14.1';
export const DOMAIN = 'fanout.bench.test';
export const ISSUER = 'https://issuer.fanout.bench.test';
export const AUDIENCE = 'easkit-fanout-bench';

export const address = (user) => `user${user}@${DOMAIN}`;
export const deviceId = (user, device) => `FANOUT${user}D${device}`;

/** A bearer token for one user, signed with the bench's private key (the servers hold the public half). */
export function bearerToken(privateKey, user) {
  return new SignJWT({ email: address(user) })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'fanout-bench' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(privateKey);
}

/** The head of one EAS POST; the WBXML body follows it on the socket. */
export function requestHead(user, device, token, command, length) {
  return (
    `POST /Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(address(user))}` +
    `&DeviceId=${deviceId(user, device)}&DeviceType=FanoutBench HTTP/1.1\r\n` +
    'Host: 127.0.0.1\r\n' +
    `Authorization: Bearer ${token}\r\n` +
    `MS-ASProtocolVersion: ${PROTOCOL_VERSION}\r\n` +
    'Content-Type: application/vnd.ms-sync.wbxml\r\n' +
    `Content-Length: ${length}\r\n\r\n`
  );
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Cuts HTTP/1.1 responses out of a socket's bytes. The EAS adapter frames every answer with Content-Length,
 * so chunked encoding is not handled. `push(chunk)` returns the responses it completed as `{ status, body }`.
 */
export class ResponseReader {
  #pending = Buffer.alloc(0);
  #head = undefined;

  push(chunk) {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const complete = [];
    for (;;) {
      if (this.#head === undefined) {
        const end = this.#pending.indexOf(HEAD_END);
        if (end < 0) break;
        const text = this.#pending.subarray(0, end).toString('latin1');
        this.#head = {
          status: Number(text.slice(9, 12)),
          length: Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0),
        };
        this.#pending = this.#pending.subarray(end + 4);
      }
      if (this.#pending.length < this.#head.length) break;
      complete.push({ status: this.#head.status, body: this.#pending.subarray(0, this.#head.length) });
      this.#pending = this.#pending.subarray(this.#head.length);
      this.#head = undefined;
    }
    return complete;
  }
}
