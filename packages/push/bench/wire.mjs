// What the Direct Push benchmark's server and load generator agree on: account and device names, the
// password, and raw HTTP/1.1 framing for a light client (no http.Agent, one plain socket per device).

export const PASSWORD = 'bench-pw';
export const PROTOCOL_VERSION = '14.1';

export const userId = (u) => `user${u}@bench.easkit.test`;
export const deviceId = (u, d) => `BENCH${u}D${d}`;
export const authorization = (user) => `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`;

/** The head of one EAS POST; the body (WBXML) follows it on the socket. */
export function requestHead(u, d, command, length) {
  const user = userId(u);
  return (
    `POST /Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(user)}` +
    `&DeviceId=${deviceId(u, d)}&DeviceType=BenchPhone HTTP/1.1\r\n` +
    'Host: 127.0.0.1\r\n' +
    `Authorization: ${authorization(user)}\r\n` +
    `MS-ASProtocolVersion: ${PROTOCOL_VERSION}\r\n` +
    'Content-Type: application/vnd.ms-sync.wbxml\r\n' +
    `Content-Length: ${length}\r\n\r\n`
  );
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Splits HTTP/1.1 responses out of a socket's byte stream (Content-Length framing, which the EAS node
 * adapter always sends). `push(chunk)` returns the complete responses it finished, as `{ status, body }`.
 */
export class ResponseReader {
  #buffer = Buffer.alloc(0);
  #head = undefined;

  push(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const done = [];
    for (;;) {
      if (this.#head === undefined) {
        const end = this.#buffer.indexOf(HEAD_END);
        if (end < 0) break;
        const text = this.#buffer.subarray(0, end).toString('latin1');
        const status = Number(text.slice(9, 12));
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
        this.#head = { status, length };
        this.#buffer = this.#buffer.subarray(end + 4);
      }
      if (this.#buffer.length < this.#head.length) break;
      done.push({ status: this.#head.status, body: this.#buffer.subarray(0, this.#head.length) });
      this.#buffer = this.#buffer.subarray(this.#head.length);
      this.#head = undefined;
    }
    return done;
  }
}
