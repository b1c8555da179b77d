// A device process of the fan-out benchmark (started by bench/fanout.mjs through bash, so that its open-file
// limit is raised first, with an IPC channel). Config as JSON in argv[2]:
//   { from, to, ports, sources, heartbeatSec, concurrency, privateJwk }
// Device i (from <= i < to) belongs to user floor(i / 2) and is that user's device i % 2; it talks to
// ports[i % ports.length] over one kept-alive socket from 127.0.0.(1 + i % sources). Like a phone it does
// FolderSync, Sync with key 0, a Sync of its Inbox, then Pings; each Ping answered with Status 2 is recorded
// (process.hrtime.bigint(), CLOCK_MONOTONIC, the clock the orchestrator stamps writes with) and followed by a
// Sync of the Inbox and a new Ping. Status 1 (heartbeat over, or superseded) only Pings again.
// IPC:  <- { setup: true }   -> { setup: { ok, failed, seconds, firstError } }  (every device Pinging)
//       <- { report: true }  -> { report: { wakes: [[device, ns], ...], counts, open } }
//       <- { stop: true }    closes every socket and exits
import net from 'node:net';
import { decode, eas, encode } from '@easkit/wbxml';
import { importJWK } from 'jose';
import { bearerToken, ResponseReader, requestHead } from './fanout-wire.mjs';

const { AirSync: AS, FolderHierarchy: FH, Ping: P } = eas;
const config = JSON.parse(process.argv[2]);
const PER_USER = 2;

const privateKey = await importJWK(config.privateJwk, 'EdDSA');
const tokens = new Map();
for (let user = Math.floor(config.from / PER_USER); user * PER_USER < config.to; user++) {
  tokens.set(user, await bearerToken(privateKey, user));
}

const wakes = [];
const counts = { pings: 0, syncs: 0, pingStatus: {}, httpErrors: {}, closed: 0, loopErrors: 0 };
const open = new Set();

class Device {
  constructor(index) {
    this.index = index;
    this.user = Math.floor(index / PER_USER);
    this.token = tokens.get(this.user);
    this.port = config.ports[index % config.ports.length];
    this.reader = new ResponseReader();
    this.waiting = undefined;
    this.inbox = undefined;
    this.syncKey = '0';
    this.pingBody = undefined;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const localAddress = `127.0.0.${1 + (this.index % config.sources)}`;
      this.socket = net.connect({ host: '127.0.0.1', port: this.port, localAddress });
      this.socket.setNoDelay(true);
      this.socket.once('connect', () => {
        open.add(this);
        resolve();
      });
      this.socket.on('data', (chunk) => {
        const arrived = process.hrtime.bigint();
        for (const response of this.reader.push(chunk)) {
          const waiting = this.waiting;
          this.waiting = undefined;
          waiting?.resolve({ ...response, arrived });
        }
      });
      this.socket.on('error', (error) => {
        reject(error);
        this.waiting?.reject(error);
        this.waiting = undefined;
      });
      this.socket.on('close', () => {
        if (open.delete(this)) counts.closed++;
        this.waiting?.reject(new Error('socket closed'));
        this.waiting = undefined;
      });
    });
  }

  /** One request on the device's socket; EAS devices never pipeline, so one is outstanding at a time. */
  request(command, body) {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.cork();
      this.socket.write(requestHead(this.user, this.index % PER_USER, this.token, command, body.length));
      this.socket.write(body);
      this.socket.uncork();
    });
  }

  async send(command, element) {
    const response = await this.request(command, Buffer.from(encode(element)));
    if (response.status !== 200) {
      counts.httpErrors[response.status] = (counts.httpErrors[response.status] ?? 0) + 1;
      throw new Error(`${command}: HTTP ${response.status} ${response.body.toString('utf8').slice(0, 200)}`);
    }
    return { tree: response.body.length > 0 ? decode(response.body) : undefined, arrived: response.arrived };
  }

  async sync(getChanges) {
    const collection = getChanges
      ? AS.Collection(AS.SyncKey(this.syncKey), AS.CollectionId(this.inbox), AS.GetChanges())
      : AS.Collection(AS.SyncKey(this.syncKey), AS.CollectionId(this.inbox));
    const { tree } = await this.send('Sync', AS.Sync(AS.Collections(collection)));
    counts.syncs++;
    // An empty body (14.1) means nothing changed: the key stays.
    const next = tree?.child('Collections')?.child('Collection')?.textOf('SyncKey');
    if (next !== undefined) this.syncKey = next;
  }

  async setUp() {
    await this.connect();
    const { tree } = await this.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    const inbox = tree
      ?.child('Changes')
      ?.all('Add')
      .find((folder) => folder.intOf('Type') === 2);
    this.inbox = inbox?.textOf('ServerId');
    if (this.inbox === undefined) throw new Error('FolderSync listed no Inbox');
    this.pingBody = P.Ping(
      P.HeartbeatInterval(config.heartbeatSec),
      P.Folders(P.Folder(P.Id(this.inbox), P.Class('Email'))),
    );
    await this.sync(false);
    await this.sync(true);
  }

  /** Pings for ever, as a phone does; returns when the socket goes. */
  async live() {
    for (;;) {
      counts.pings++;
      const { tree, arrived } = await this.send('Ping', this.pingBody);
      const status = tree?.intOf('Status');
      counts.pingStatus[status] = (counts.pingStatus[status] ?? 0) + 1;
      if (status === 2) {
        wakes.push([this.index, String(arrived)]);
        await this.sync(true);
      } else if (status !== 1) {
        throw new Error(`Ping Status ${status}`);
      }
    }
  }
}

async function setUpAll() {
  const started = performance.now();
  let next = config.from;
  let ok = 0;
  let failed = 0;
  let firstError;
  const worker = async () => {
    while (next < config.to) {
      const device = new Device(next++);
      try {
        await device.setUp();
        ok++;
        device.live().catch((error) => {
          counts.loopErrors++;
          firstError ??= `device ${device.index}: ${error.message}`;
        });
      } catch (error) {
        failed++;
        firstError ??= `device ${device.index}: ${error.message}`;
        device.socket?.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  return { ok, failed, seconds: (performance.now() - started) / 1000, firstError };
}

process.on('message', async (message) => {
  if (message?.setup) process.send({ setup: await setUpAll() });
  if (message?.report) process.send({ report: { wakes: wakes.splice(0), counts, open: open.size } });
  if (message?.stop) {
    for (const device of open) device.socket.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: { nofile: Number(process.env.BENCH_NOFILE ?? 0) } });
