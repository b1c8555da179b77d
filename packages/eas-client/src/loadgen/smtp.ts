import { connect, type Socket } from 'node:net';

/**
 * Hands one message to an SMTP listener (plain, no AUTH): enough to feed a server's inbound port (easkit's
 * `mailIn`) during a load run. Each call is one connection; a reply other than 2xx/3xx throws.
 */
export async function sendSmtp(
  target: { host: string; port: number },
  envelope: { from: string; to: string[] },
  message: string,
): Promise<void> {
  const socket = connect(target.port, target.host);
  socket.setTimeout(30_000, () => socket.destroy(new Error('SMTP timeout')));
  const replies = replyReader(socket);
  try {
    await replies.next('greeting');
    await command(socket, replies, 'EHLO easkit-loadgen');
    await command(socket, replies, `MAIL FROM:<${envelope.from}>`);
    for (const to of envelope.to) await command(socket, replies, `RCPT TO:<${to}>`);
    await command(socket, replies, 'DATA');
    // Dot-stuffing (RFC 5321 4.5.2): a line starting with a dot gets one more.
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    await command(socket, replies, `${body}${body.endsWith('\r\n') ? '' : '\r\n'}.`);
    socket.write('QUIT\r\n');
  } finally {
    socket.end();
  }
}

async function command(socket: Socket, replies: ReturnType<typeof replyReader>, line: string) {
  socket.write(`${line}\r\n`);
  await replies.next(line.split(' ')[0] ?? line);
}

function replyReader(socket: Socket) {
  let buffer = '';
  let waiting: { resolve: (code: number) => void; reject: (error: Error) => void; what: string } | undefined;
  let failure: Error | undefined;
  const complete: number[] = [];
  const deliver = () => {
    for (;;) {
      const end = buffer.indexOf('\r\n');
      if (end < 0) break;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // "250-..." continues a multi-line reply; "250 ..." ends it.
      if (line[3] === '-') continue;
      complete.push(Number(line.slice(0, 3)));
    }
    if (waiting && complete.length > 0) {
      const code = complete.shift() as number;
      const current = waiting;
      waiting = undefined;
      if (code >= 400 || Number.isNaN(code)) current.reject(new Error(`SMTP ${current.what}: ${code}`));
      else current.resolve(code);
    }
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    deliver();
  });
  const fail = (error: Error) => {
    failure = error;
    waiting?.reject(error);
    waiting = undefined;
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('SMTP connection closed')));
  return {
    next(what: string): Promise<number> {
      if (failure) return Promise.reject(failure);
      return new Promise<number>((resolve, reject) => {
        waiting = { resolve, reject, what };
        deliver();
      });
    },
  };
}
