import { eas } from '@easkit/wbxml';
import { TestDevice } from './device.js';

const { AirSync: AS, FolderHierarchy: FH, Ping: P } = eas;

/**
 * A provisioned device whose Inbox is synced to the end, ready to Ping: the common start of the server's
 * push tests. Returns the device, its Inbox id and its current Inbox key.
 */
export async function inboxDevice(url: string, login: string, password: string, deviceId: string) {
  const device = new TestDevice(url, login, password, deviceId);
  await device.provision();
  const hierarchy = await device.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
  const inbox = hierarchy
    .body!.require('Changes')
    .all('Add')
    .find((folder) => folder.intOf('Type') === 2)!
    .textOf('ServerId')!;
  let key = '0';
  for (let round = 0; round < 3; round++) {
    const reply = await device.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox), AS.WindowSize(100)))),
    );
    // An empty answer (14.1) means nothing more to send: the key stays.
    if (!reply.body) break;
    key = reply.body.require('Collections').require('Collection').textOf('SyncKey')!;
  }
  return { device, inbox, key };
}

/** A Ping on the Inbox with a 120 s heartbeat. */
export function pingInbox(device: TestDevice, inbox: string) {
  return device.send(
    'Ping',
    P.Ping(P.HeartbeatInterval(120), P.Folders(P.Folder(P.Id(inbox), P.Class('Email')))),
  );
}

/** Resolves once the server at `url` holds at least `count` waiting requests (read from /metrics). */
export async function untilWaiting(url: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (Number(/easkit_waiting_requests (\d+)/.exec(text)?.[1]) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not ${count} waiting at ${url}`);
}
