import { eas } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, type TestDevice, TestServer } from '../../test/harness.js';

const { AirSync: AS, GetItemEstimate: GIE, Move: MV } = eas;
const ALICE = 'alice@example.com';

function mime(subject: string): Uint8Array {
  return new TextEncoder().encode(`Subject: ${subject}\r\nFrom: <a@example.org>\r\n\r\nbody\r\n`);
}

async function primeAndDrain(device: TestDevice, collectionId: string): Promise<string> {
  const send = (key: string) =>
    device.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId)))),
    );
  let key = (await send('0')).body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!;
  for (let round = 0; round < 20; round++) {
    const reply = await send(key);
    const collection = reply.body?.child('Collections')?.child('Collection');
    if (!collection) break;
    key = collection.textOf('SyncKey')!;
    if (!collection.has('MoreAvailable')) {
      const last = await send(key);
      const again = last.body?.child('Collections')?.child('Collection');
      if (again) key = again.textOf('SyncKey')!;
      break;
    }
  }
  return key;
}

describe('GetItemEstimate and MoveItems over HTTP', () => {
  const server = new TestServer();
  let inbox: string;
  let archive: string;
  const ids: string[] = [];

  beforeAll(async () => {
    await server.start();
    inbox = server.folders.get('alice:Inbox')!.id;
    archive = (await server.mailbox.createFolder(ALICE, { parentId: '0', displayName: 'Archive', type: 12 }))
      .id;
    for (let index = 0; index < 4; index++) {
      const item = await server.mailbox.createItem(ALICE, inbox, {
        class: 'Email',
        data: {
          mime: mime(`M${index}`),
          dateReceived: new Date(Date.now() - index * 10 * 24 * 3600 * 1000),
          read: false,
          messageClass: 'IPM.Note',
        },
      });
      ids.push(item.id);
    }
  });
  afterAll(() => server.stop());

  async function estimate(device: TestDevice, collectionId: string, syncKey: string, filterType?: number) {
    const reply = await device.send(
      'GetItemEstimate',
      GIE.GetItemEstimate(
        GIE.Collections(
          GIE.Collection(
            AS.SyncKey(syncKey),
            GIE.CollectionId(collectionId),
            filterType === undefined ? null : AS.Options(AS.FilterType(filterType)),
          ),
        ),
      ),
    );
    const response = reply.body!.child('Response')!;
    return { status: response.intOf('Status'), estimate: response.child('Collection')?.intOf('Estimate') };
  }

  it('estimates a primed collection, honouring FilterType, and reports every status', async () => {
    const device = server.device('alice', 'estimate');
    expect(await estimate(device, inbox, '0')).toMatchObject({ status: 3 });
    expect(await estimate(device, 'no-such-folder', '0')).toMatchObject({ status: 2 });
    const primed = await device.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)))),
    );
    const key = primed.body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!;
    expect(await estimate(device, inbox, key)).toEqual({ status: 1, estimate: 4 });
    // FilterType 4 is two weeks: two of the four messages are younger.
    expect(await estimate(device, inbox, key, 4)).toEqual({ status: 1, estimate: 2 });
    expect(await estimate(device, inbox, 'stale-key')).toMatchObject({ status: 4 });
  });

  it('moves many messages in one request with a status and a new id each', async () => {
    const device = server.device('alice', 'mover');
    const reply = await device.send(
      'MoveItems',
      MV.MoveItems(
        MV.Move(MV.SrcMsgId(ids[0]!), MV.SrcFldId(inbox), MV.DstFldId(archive)),
        MV.Move(MV.SrcMsgId(ids[1]!), MV.SrcFldId(inbox), MV.DstFldId(archive)),
        MV.Move(MV.SrcMsgId('missing'), MV.SrcFldId(inbox), MV.DstFldId(archive)),
        MV.Move(MV.SrcMsgId(ids[2]!), MV.SrcFldId(inbox), MV.DstFldId('no-such-folder')),
        MV.Move(MV.SrcMsgId(ids[2]!), MV.SrcFldId(inbox), MV.DstFldId(inbox)),
      ),
    );
    const responses = reply.body!.all('Response');
    expect(responses.map((response) => response.intOf('Status'))).toEqual([3, 3, 1, 2, 4]);
    const newIds = responses.slice(0, 2).map((response) => response.textOf('DstMsgId')!);
    for (const newId of newIds) {
      await expect(server.mailbox.getItem(ALICE, newId)).resolves.toMatchObject({ folderId: archive });
    }
    expect(await server.mailbox.countItems(ALICE, inbox)).toBe(2);
  });

  it("does not send a device's own moves back to it, but shows them to other devices", async () => {
    const mover = server.device('alice', 'own-mover');
    const watcher = server.device('alice', 'watcher');
    const moverInbox = await primeAndDrain(mover, inbox);
    const moverArchive = await primeAndDrain(mover, archive);
    const watcherInbox = await primeAndDrain(watcher, inbox);
    const [remaining] = (await server.mailbox.changes(ALICE, inbox, 0, 100)).changes.filter(
      (change) => change.kind !== 'delete',
    );
    const moved = await mover.send(
      'MoveItems',
      MV.MoveItems(MV.Move(MV.SrcMsgId(remaining!.itemId), MV.SrcFldId(inbox), MV.DstFldId(archive))),
    );
    expect(moved.body!.child('Response')!.intOf('Status')).toBe(3);

    const sync = (device: TestDevice, key: string, collectionId: string) =>
      device.send(
        'Sync',
        AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId)))),
      );
    expect((await sync(mover, moverInbox, inbox)).body).toBeUndefined();
    expect((await sync(mover, moverArchive, archive)).body).toBeUndefined();
    const seen = await sync(watcher, watcherInbox, inbox);
    const deletes = seen.body!.child('Collections')!.child('Collection')!.child('Commands')!.all('Delete');
    expect(deletes.map((entry) => entry.textOf('ServerId'))).toEqual([remaining!.itemId]);
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(server.responses, 6);
  });
});
