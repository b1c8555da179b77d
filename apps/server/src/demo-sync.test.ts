import { createEasCommands } from '@easkit/eas-commands';
import { MemoryMailboxStore } from '@easkit/mailbox';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { decode, eas, encode, type WbxmlElement } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from './config.js';
import { PasswordDirectory } from './passwords.js';
import { seedDemoMailbox } from './seed.js';
import { type RunningServer, startEasServer } from './server.js';

const { AirSync: AS, AirSyncBase: ASB, FolderHierarchy: FH } = eas;

describe('a device adds the demo account', () => {
  let running: RunningServer;

  beforeAll(async () => {
    const mailbox = new MemoryMailboxStore();
    const syncState = new MemorySyncStateStore();
    const passwords = new PasswordDirectory();
    const demo = await seedDemoMailbox(mailbox);
    await passwords.setPassword(demo.id, 'pw');
    running = await startEasServer({
      config: configFromEnv({ EASKIT_PORT: '0' }),
      mailbox,
      passwords,
      commands: createEasCommands({ mailbox, syncState }),
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(() => running.close());

  async function send(
    version: string,
    command: string,
    body: WbxmlElement,
  ): Promise<WbxmlElement | undefined> {
    const response = await fetch(
      `${running.url}/Microsoft-Server-ActiveSync?Cmd=${command}&User=demo&DeviceId=phone-${version}&DeviceType=iPhone`,
      {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from('demo:pw').toString('base64')}`,
          'MS-ASProtocolVersion': version,
          'Content-Type': 'application/vnd.ms-sync.wbxml',
        },
        body: encode(body),
      },
    );
    expect(response.status).toBe(200);
    const bytes = new Uint8Array(await response.arrayBuffer());
    return bytes.length === 0 ? undefined : decode(bytes);
  }

  for (const version of ['12.1', '14.1', '16.1']) {
    it(`syncs mail, calendar, contacts, tasks and notes in protocol ${version}`, async () => {
      const hierarchy = await send(version, 'FolderSync', FH.FolderSync(FH.SyncKey('0')));
      const folders = hierarchy!.require('Changes').all('Add');
      const byType = new Map(folders.map((folder) => [folder.intOf('Type'), folder.textOf('ServerId')!]));
      const expected: [number, string, string][] = [
        [2, 'Email:Subject', 'Welcome to easkit'],
        [8, 'Calendar:Subject', 'Weekly stand-up'],
        [9, 'Contacts:FileAs', 'Lovelace, Ada'],
        [7, 'Tasks:Subject', 'Add this account to a second device'],
        [10, 'Notes:Subject', 'Shopping list'],
      ];
      // The Notes class exists from 14.0 on.
      for (const [type, field, value] of expected.filter(([type]) => type !== 10 || version !== '12.1')) {
        const collectionId = byType.get(type)!;
        const primed = await send(
          version,
          'Sync',
          AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(collectionId)))),
        );
        const key = primed!.require('Collections').require('Collection').textOf('SyncKey')!;
        const reply = await send(
          version,
          'Sync',
          AS.Sync(
            AS.Collections(
              AS.Collection(
                AS.SyncKey(key),
                AS.CollectionId(collectionId),
                AS.Options(ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(5120))),
              ),
            ),
          ),
        );
        const adds = reply!.require('Collections').require('Collection').require('Commands').all('Add');
        const values = adds.map((add) => add.require('ApplicationData').textOf(field));
        expect(values, `folder type ${type}`).toContain(value);
      }
    });
  }
});
