import { strict as assert } from 'node:assert';
import {
  type EmailData,
  FolderType,
  type MailboxStore,
  MemoryMailboxStore,
  NotFoundError,
  type PollRequest,
  ROOT_FOLDER_ID,
} from '@easkit/mailbox';
import { runMailboxConformance } from '@easkit/mailbox/conformance';
import { describe, it } from 'vitest';
import { InProcessPushBus } from './in-process.js';
import { HIERARCHY_CHANGED, publishingMailbox } from './publishing-mailbox.js';
import type { PushBus, PushEvent } from './push-bus.js';

// The wrapper must be transparent: it passes the whole mailbox contract.
runMailboxConformance({
  name: 'publishingMailbox(MemoryMailboxStore)',
  create: () => publishingMailbox(new MemoryMailboxStore(), new InProcessPushBus()),
});

function email(subject: string): { class: 'Email'; data: EmailData } {
  const mime = ['From: ada@example.com', `Subject: ${subject}`, 'Content-Type: text/plain', '', 'Hello'];
  return {
    class: 'Email',
    data: {
      mime: new TextEncoder().encode(mime.join('\r\n')),
      subject,
      dateReceived: new Date('2025-01-07T10:00:00Z'),
      read: false,
      messageClass: 'IPM.Note',
    },
  };
}

async function setUp(bus: PushBus = new InProcessPushBus()) {
  const mailbox = publishingMailbox(new MemoryMailboxStore(), bus);
  const events: PushEvent[] = [];
  for (const user of ['alice', 'bob']) {
    await mailbox.createUser({ id: user, primarySmtpAddress: `${user}@example.com` });
    await bus.subscribe(user, (event) => void events.push(event));
  }
  const inbox = await mailbox.createFolder('alice', {
    parentId: ROOT_FOLDER_ID,
    displayName: 'Inbox',
    type: FolderType.Inbox,
  });
  const archive = await mailbox.createFolder('alice', {
    parentId: ROOT_FOLDER_ID,
    displayName: 'Archive',
    type: FolderType.UserMail,
  });
  events.length = 0;
  return { mailbox, events, inbox, archive };
}

/** The events published while `action` ran, as [user, folderIds] pairs. */
async function published(events: PushEvent[], action: () => Promise<unknown>) {
  events.length = 0;
  await action();
  return events.map((event) => [event.user, [...event.folderIds]]);
}

describe('publishingMailbox', () => {
  it('publishes the item’s folder for every item mutation, before the call resolves', async () => {
    const { mailbox, events, inbox } = await setUp();
    let item = await mailbox.createItem('alice', inbox.id, email('one'));
    assert.deepEqual(
      events.map((event) => [event.user, event.folderIds]),
      [['alice', [inbox.id]]],
    );
    assert.deepEqual(
      await published(events, async () => {
        item = await mailbox.updateItem('alice', item.id, { class: 'Email', data: { subject: 'two' } });
      }),
      [['alice', [inbox.id]]],
    );
    assert.deepEqual(await published(events, () => mailbox.setReadState('alice', item.id, true)), [
      ['alice', [inbox.id]],
    ]);
    assert.deepEqual(
      await published(events, () => mailbox.setFlag('alice', item.id, { status: 2, flagType: 'Follow up' })),
      [['alice', [inbox.id]]],
    );
    assert.deepEqual(await published(events, () => mailbox.deleteItem('alice', item.id)), [
      ['alice', [inbox.id]],
    ]);
  });

  it('gives every item event the modseq the mutation took, and folder events none', async () => {
    const { mailbox, events, inbox, archive } = await setUp();
    const modseqs: number[] = [];
    let item = await mailbox.createItem('alice', inbox.id, email('one'));
    modseqs.push(item.modseq);
    item = await mailbox.updateItem('alice', item.id, { class: 'Email', data: { subject: 'two' } });
    modseqs.push(item.modseq);
    item = await mailbox.setReadState('alice', item.id, true);
    modseqs.push(item.modseq);
    item = await mailbox.setFlag('alice', item.id, { status: 2 });
    modseqs.push(item.modseq);
    item = await mailbox.moveItem('alice', item.id, archive.id);
    modseqs.push(item.modseq);
    modseqs.push((await mailbox.deleteItem('alice', item.id)).modseq);
    await mailbox.updateFolder('alice', archive.id, { displayName: 'Old' });
    assert.equal(new Set(modseqs).size, modseqs.length, 'one modseq per mutation');
    assert.deepEqual(
      events.map((event) => event.modseq),
      [...modseqs, undefined],
    );
  });

  it('publishes both folders of a move', async () => {
    const { mailbox, events, inbox, archive } = await setUp();
    const item = await mailbox.createItem('alice', inbox.id, email('one'));
    assert.deepEqual(await published(events, () => mailbox.moveItem('alice', item.id, archive.id)), [
      ['alice', [inbox.id, archive.id]],
    ]);
  });

  it('publishes the hierarchy marker (the empty list) for folder mutations', async () => {
    const { mailbox, events, archive } = await setUp();
    assert.deepEqual(HIERARCHY_CHANGED, []);
    let created = archive;
    assert.deepEqual(
      await published(events, async () => {
        created = await mailbox.createFolder('alice', {
          parentId: archive.id,
          displayName: '2024',
          type: FolderType.UserMail,
        });
      }),
      [['alice', []]],
    );
    assert.deepEqual(
      await published(events, () => mailbox.updateFolder('alice', created.id, { displayName: '2025' })),
      [['alice', []]],
    );
    assert.deepEqual(await published(events, () => mailbox.deleteFolder('alice', archive.id)), [
      ['alice', []],
    ]);
  });

  it('publishes nothing for reads and failed mutations, and only for the user written to', async () => {
    const { mailbox, events, inbox } = await setUp();
    const item = await mailbox.createItem('alice', inbox.id, email('one'));
    const reads = await published(events, async () => {
      await mailbox.getItem('alice', item.id);
      await mailbox.listFolders('alice');
      await mailbox.changes('alice', inbox.id, 0, 10);
      await mailbox.folderChanges('alice', 0);
      await mailbox.countItems('alice', inbox.id);
      await mailbox.readBody('alice', item.id, { type: 'plain' });
      await mailbox.currentModseq('alice');
    });
    assert.deepEqual(reads, []);
    const failures = await published(events, async () => {
      await assert.rejects(mailbox.deleteItem('alice', 'missing'), NotFoundError);
      await assert.rejects(mailbox.moveItem('alice', 'missing', inbox.id), NotFoundError);
      await assert.rejects(mailbox.createItem('alice', 'missing', email('x')), NotFoundError);
      await assert.rejects(mailbox.deleteFolder('alice', 'missing'), NotFoundError);
      // bob cannot touch alice's item.
      await assert.rejects(mailbox.deleteItem('bob', item.id), NotFoundError);
    });
    assert.deepEqual(failures, []);
  });

  it('keeps a write successful when the bus fails, and reports the failure', async () => {
    const bus = new InProcessPushBus();
    const store: MailboxStore = new MemoryMailboxStore();
    const failures: unknown[] = [];
    const mailbox = publishingMailbox(store, bus, {
      onPublishError: (error, user, folderIds) => void failures.push([error, user, folderIds]),
    });
    await mailbox.createUser({ id: 'alice', primarySmtpAddress: 'alice@example.com' });
    await bus.close();
    const folder = await mailbox.createFolder('alice', {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Inbox',
      type: FolderType.Inbox,
    });
    assert.equal((await store.listFolders('alice')).length, 1);
    assert.equal(failures.length, 1);
    assert.equal((failures[0] as [Error])[0].name, 'PushBusClosedError');
    // Without the hook the error is dropped, never thrown.
    const quiet = publishingMailbox(store, bus);
    await quiet.createItem('alice', folder.id, email('one'));
  });
});

describe('publishingMailbox: optional reads', () => {
  it('passes listUsers through when the wrapped store has it, and not otherwise', async () => {
    const memory = new MemoryMailboxStore();
    await memory.createUser({ id: 'u1', primarySmtpAddress: 'u1@example.com' });
    type Lister = MailboxStore & { listUsers?: () => Promise<{ id: string }[]> };
    const wrapped = publishingMailbox(memory, new InProcessPushBus()) as Lister;
    assert.deepEqual(
      (await wrapped.listUsers?.())?.map((user) => user.id),
      ['u1'],
    );
    const bare: MailboxStore = Object.create(memory, { listUsers: { value: undefined } });
    assert.equal((publishingMailbox(bare, new InProcessPushBus()) as Lister).listUsers, undefined);
  });

  it('passes pollChanges through when the wrapped store has it, and not otherwise', async () => {
    const memory = new MemoryMailboxStore();
    const calls: unknown[] = [];
    const polling: MailboxStore = Object.create(memory, {
      pollChanges: {
        value: async (user: string, request: PollRequest) => {
          calls.push([user, request]);
          return { folders: ['changed'] };
        },
      },
    });
    const request: PollRequest = { folders: [{ folderId: '5', sinceModseq: 3 }] };
    const wrapped = publishingMailbox(polling, new InProcessPushBus());
    assert.deepEqual(await wrapped.pollChanges?.('alice', request), { folders: ['changed'] });
    assert.deepEqual(calls, [['alice', request]]);
    assert.equal(publishingMailbox(memory, new InProcessPushBus()).pollChanges, undefined);
  });
});
