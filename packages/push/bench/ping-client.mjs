// The load generator of the Direct Push benchmark: holds one kept-alive socket per device and keeps a Ping
// waiting on each, the way a phone does. Started by bench/ping.mjs as a child process with
// `{ port, devicesPerUser, sources, heartbeatSec }` as JSON in argv[2]. Each device's Ping body (its Inbox
// id and the heartbeat) is encoded once, when it connects, and reused for every Ping it sends.
//
// A device answered Status 2 records when the answer arrived (process.hrtime.bigint(), CLOCK_MONOTONIC, so
// the orchestrator can compare it with the server's publish time), syncs its Inbox with its current key
// (as a phone would; otherwise its next Ping would answer at once) and Pings again. Status 1 Pings again.
// IPC:
//   <- { open: { from, to, syncKeys, inboxes } } (both indexed from `from`)   connects devices [from, to) (device i is user floor(i / perUser),
//                                          device i % perUser) spread over 127.0.0.1..127.0.0.<sources>,
//                                          sends their Ping -> { opened: { count, failed, seconds } }
//   <- { report: true }                    -> { report: { wakes: [[device, hrtimeNs], ...], counts } }
//   <- { stop: true }                      closes every socket and exits
import net from 'node:net';
import { loadWbxml } from './packages.mjs';
import { ResponseReader, requestHead } from './wire.mjs';

const { decode, eas, encode } = await loadWbxml();
const { AirSync: AS, Ping: P } = eas;

const config = JSON.parse(process.argv[2]);
const perUser = config.devicesPerUser;
const pingBody = (inbox) =>
  Buffer.from(
    encode(
      P.Ping(P.HeartbeatInterval(config.heartbeatSec), P.Folders(P.Folder(P.Id(inbox), P.Class('Email')))),
    ),
  );
const syncBody = (inbox, syncKey) =>
  Buffer.from(
    encode(
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(syncKey), AS.CollectionId(inbox), AS.GetChanges()))),
    ),
  );

const devices = new Map();
const wakes = [];
const counts = { pings: 0, status: {}, syncs: 0, errors: 0, closed: 0 };

function send(device, command, body) {
  const u = Math.floor(device.index / perUser);
  const d = device.index % perUser;
  device.socket.cork();
  device.socket.write(requestHead(u, d, command, body.length));
  device.socket.write(body);
  device.socket.uncork();
}

function ping(device) {
  device.waiting = 'Ping';
  counts.pings++;
  send(device, 'Ping', device.pingBody);
}

function onResponse(device, response) {
  const arrived = process.hrtime.bigint();
  if (response.status !== 200) {
    counts.errors++;
    return;
  }
  if (device.waiting === 'Sync') {
    counts.syncs++;
    const collection =
      response.body.length > 0 ? decode(response.body).child('Collections')?.child('Collection') : undefined;
    const next = collection?.textOf('SyncKey');
    if (next !== undefined) device.syncKey = next;
    ping(device);
    return;
  }
  const status = response.body.length > 0 ? decode(response.body).intOf('Status') : undefined;
  counts.status[status] = (counts.status[status] ?? 0) + 1;
  if (status === 2) {
    wakes.push([device.index, String(arrived)]);
    device.waiting = 'Sync';
    send(device, 'Sync', syncBody(device.inbox, device.syncKey));
  } else if (status === 1) {
    ping(device);
  } else {
    counts.errors++;
  }
}

function connect(index, syncKey, inbox) {
  return new Promise((resolve) => {
    const localAddress = `127.0.0.${1 + (index % config.sources)}`;
    const socket = net.connect({ port: config.port, host: '127.0.0.1', localAddress });
    const device = {
      index,
      socket,
      inbox,
      syncKey,
      pingBody: pingBody(inbox),
      waiting: undefined,
      reader: new ResponseReader(),
    };
    socket.setNoDelay(true);
    socket.once('connect', () => {
      devices.set(index, device);
      ping(device);
      resolve(true);
    });
    socket.on('data', (chunk) => {
      for (const response of device.reader.push(chunk)) onResponse(device, response);
    });
    socket.on('error', () => {
      counts.errors++;
      resolve(false);
    });
    socket.on('close', () => {
      if (devices.get(index) === device) {
        devices.delete(index);
        counts.closed++;
      }
    });
  });
}

async function open({ from, to, syncKeys, inboxes }) {
  const start = performance.now();
  let failed = 0;
  const batch = 500;
  for (let first = from; first < to; first += batch) {
    const last = Math.min(to, first + batch);
    const results = await Promise.all(
      Array.from({ length: last - first }, (_, k) =>
        connect(first + k, syncKeys[k + first - from], inboxes[first + k - from]),
      ),
    );
    failed += results.filter((ok) => !ok).length;
  }
  return { count: to - from - failed, failed, seconds: (performance.now() - start) / 1000 };
}

process.on('message', async (message) => {
  if (message?.open) process.send({ opened: await open(message.open) });
  if (message?.report) {
    process.send({ report: { wakes: wakes.splice(0), counts, open: devices.size } });
  }
  if (message?.stop) {
    for (const device of devices.values()) device.socket.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
