import { eas } from '@easkit/wbxml';
import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const { AirSync: AS, FolderHierarchy: FH, Ping: P } = eas;

describe('mail in over SMTP wakes a waiting Ping', () => {
  let app: EasApp;

  beforeAll(async () => {
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_STORAGE: 'memory',
        EASKIT_DEMO_PASSWORD: 'pw',
        EASKIT_MAIL_IN_PORT: '0',
      }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => app.close());

  it('delivers to a local address in any letter case, answers the Ping with the Inbox, and the message syncs', async () => {
    const phone = new TestDevice(app.running.url, 'demo', 'pw', 'smtp-phone');
    await phone.provision();
    const hierarchy = await phone.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    const inbox = hierarchy
      .body!.require('Changes')
      .all('Add')
      .find((folder) => folder.intOf('Type') === 2)!
      .textOf('ServerId')!;
    const first = await phone.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)))),
    );
    let key = first.body!.require('Collections').require('Collection').textOf('SyncKey')!;
    const drained = await phone.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox), AS.WindowSize(100)))),
    );
    key = drained.body!.require('Collections').require('Collection').textOf('SyncKey')!;

    const ping = phone.send(
      'Ping',
      P.Ping(P.HeartbeatInterval(300), P.Folders(P.Folder(P.Id(inbox), P.Class('Email')))),
    );
    while ((await (await fetch(`${app.running.url}/metrics`)).text()).includes('easkit_waiting_requests 0')) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const transport = createTransport({ host: '127.0.0.1', port: app.mailIn!.port, ignoreTLS: true });
    await expect(
      transport.sendMail({
        envelope: { from: 'x@remote.test', to: ['nobody@easkit.test'] },
        raw: 'Subject: x\r\n\r\nx\r\n',
      }),
    ).rejects.toThrow(/550/);
    await transport.sendMail({
      envelope: { from: 'boss@remote.test', to: ['DEMO@easkit.test'] },
      raw: 'From: Boss <boss@remote.test>\r\nTo: demo@easkit.test\r\nSubject: Over SMTP\r\nMessage-ID: <smtp-1@remote.test>\r\n\r\nHello from the internet.\r\n',
    });
    const answer = await ping;
    expect(answer.body?.intOf('Status')).toBe(2);
    expect(answer.body?.require('Folders').textOf('Folder')).toBe(inbox);

    const synced = await phone.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox)))),
    );
    const adds = synced.body!.require('Collections').require('Collection').require('Commands').all('Add');
    expect(adds).toHaveLength(1);
    expect(adds[0]!.require('ApplicationData').textOf('Subject')).toBe('Over SMTP');
    const metrics = await (await fetch(`${app.running.url}/metrics`)).text();
    expect(metrics).toMatch(/easkit_mail_in_messages_total\{outcome="delivered"\} 1/);
    expect(metrics).toMatch(/easkit_push_wakeups_total 1/);
    expect(metrics).toMatch(/easkit_sync_items_sent_total [1-9]/);
  });
});
