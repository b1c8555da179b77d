import { configFromEnv, type EasApp, startApp } from '@easkit/server';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EasClient } from '../client.js';
import { FolderType } from '../protocol.js';
import { sendSmtp } from './smtp.js';

let app: EasApp;

beforeAll(async () => {
  app = await startApp(
    configFromEnv({
      EASKIT_PORT: '0',
      EASKIT_STORAGE: 'memory',
      EASKIT_DEMO_PASSWORD: 'pw',
      EASKIT_MAIL_IN_PORT: '0',
      EASKIT_LOG_LEVEL: 'silent',
    }),
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await app?.close();
});

it('hands a message to the server’s SMTP listener, dot-stuffed, and it arrives in the Inbox', async () => {
  const port = app.mailIn?.port as number;
  expect(port).toBeGreaterThan(0);
  const mime = [
    'From: someone@remote.test',
    'To: demo@easkit.test',
    'Subject: over SMTP',
    '',
    'first line',
    '.a line starting with a dot',
    '',
  ].join('\n');
  await sendSmtp(
    { host: '127.0.0.1', port },
    { from: 'someone@remote.test', to: ['demo@easkit.test'] },
    mime,
  );
  const client = await EasClient.open({
    url: `${app.running.url}/Microsoft-Server-ActiveSync`,
    credentials: { username: 'demo@easkit.test', password: 'pw' },
  });
  await client.folderSync();
  const inbox = await client.syncCollection(client.folder(FolderType.Inbox)!.serverId, {
    bodyPreferences: [{ type: 1 }],
  });
  const message = inbox.added.find((item) => item.data.fields.Subject === 'over SMTP');
  expect(message?.data.body?.data).toContain('\n.a line starting with a dot');
  // An unknown recipient is refused at RCPT time: the promise rejects with the SMTP code.
  await expect(
    sendSmtp({ host: '127.0.0.1', port }, { from: 'someone@remote.test', to: ['nobody@easkit.test'] }, mime),
  ).rejects.toThrow(/SMTP RCPT: 5\d\d/);
});
