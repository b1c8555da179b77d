import { type Folder, FolderType, type MailboxStore, ROOT_FOLDER_ID, type User } from '@easkit/mailbox';

/** The default folders every mailbox gets; Android clients expect Drafts and Outbox to exist. */
export const DEFAULT_FOLDERS: readonly { displayName: string; type: FolderType }[] = [
  { displayName: 'Inbox', type: FolderType.Inbox },
  { displayName: 'Drafts', type: FolderType.Drafts },
  { displayName: 'Deleted Items', type: FolderType.DeletedItems },
  { displayName: 'Sent Items', type: FolderType.SentItems },
  { displayName: 'Outbox', type: FolderType.Outbox },
  { displayName: 'Tasks', type: FolderType.Tasks },
  { displayName: 'Calendar', type: FolderType.Calendar },
  { displayName: 'Contacts', type: FolderType.Contacts },
  { displayName: 'Notes', type: FolderType.Notes },
  { displayName: 'Journal', type: FolderType.Journal },
  { displayName: 'Recipient Cache', type: FolderType.RecipientInformationCache },
];

/** Creates a user with the default folders; returns the folders by type. */
export async function createMailbox(
  mailbox: MailboxStore,
  user: { id: string; primarySmtpAddress: string; aliases?: string[]; displayName?: string },
): Promise<{ user: User; folders: Map<FolderType, Folder> }> {
  const created = await mailbox.createUser(user);
  const folders = new Map<FolderType, Folder>();
  for (const folder of DEFAULT_FOLDERS) {
    folders.set(folder.type, await mailbox.createFolder(created.id, { ...folder, parentId: ROOT_FOLDER_ID }));
  }
  return { user: created, folders };
}

function crlf(lines: string[]): Uint8Array {
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n`);
}

/** The demo mailbox of `pnpm start`: a few items of every class so a device has something to show. */
export async function seedDemoMailbox(mailbox: MailboxStore, address = 'demo@easkit.test'): Promise<User> {
  const { user, folders } = await createMailbox(mailbox, {
    id: address,
    primarySmtpAddress: address,
    displayName: 'Demo User',
  });
  const folderId = (type: FolderType) => folders.get(type)!.id;
  const now = new Date();
  const day = 24 * 60 * 60 * 1000;

  const welcome = crlf([
    'From: easkit <hello@easkit.test>',
    `To: Demo User <${address}>`,
    'Subject: Welcome to easkit',
    `Date: ${now.toUTCString()}`,
    'Message-ID: <welcome@easkit.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="easkit-demo"',
    '',
    '--easkit-demo',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This mailbox is served by the easkit reference server.',
    'Mail, calendar, contacts, tasks and notes all sync over Exchange ActiveSync.',
    '--easkit-demo',
    'Content-Type: text/plain; charset=utf-8; name="readme.txt"',
    'Content-Disposition: attachment; filename="readme.txt"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('An attachment, fetched by reference.\n').toString('base64'),
    '--easkit-demo--',
  ]);
  await mailbox.createItem(user.id, folderId(FolderType.Inbox), {
    class: 'Email',
    data: {
      mime: welcome,
      from: { name: 'easkit', address: 'hello@easkit.test' },
      to: [{ name: 'Demo User', address }],
      subject: 'Welcome to easkit',
      dateReceived: now,
      displayTo: 'Demo User',
      importance: 1,
      read: false,
      messageClass: 'IPM.Note',
      internetCPID: 65001,
    },
  });

  const start = new Date(Math.ceil(now.getTime() / day) * day + 9 * 60 * 60 * 1000);
  await mailbox.createItem(user.id, folderId(FolderType.Calendar), {
    class: 'Calendar',
    data: {
      startTime: start,
      endTime: new Date(start.getTime() + 30 * 60 * 1000),
      subject: 'Weekly stand-up',
      location: { displayName: 'Room 1' },
      organizerName: 'Demo User',
      organizerEmail: address,
      uid: 'demo-standup@easkit.test',
      busyStatus: 2,
      sensitivity: 0,
      reminder: 10,
      meetingStatus: 1,
      recurrence: { type: 1, interval: 1, dayOfWeek: 1 << start.getUTCDay(), occurrences: 20 },
      attendees: [{ email: 'colleague@easkit.test', name: 'A Colleague', status: 0, type: 1 }],
      body: { type: 'plain', data: 'Fifteen minutes, every week.' },
    },
  });

  await mailbox.createItem(user.id, folderId(FolderType.Contacts), {
    class: 'Contacts',
    data: {
      firstName: 'Ada',
      lastName: 'Lovelace',
      fileAs: 'Lovelace, Ada',
      companyName: 'Analytical Engines',
      jobTitle: 'Programmer',
      email1Address: 'ada@example.test',
      mobilePhoneNumber: '+44 20 7946 0000',
      birthday: new Date(Date.UTC(1815, 11, 10)),
    },
  });
  await mailbox.createItem(user.id, folderId(FolderType.Contacts), {
    class: 'Contacts',
    data: {
      firstName: 'Alan',
      lastName: 'Turing',
      fileAs: 'Turing, Alan',
      email1Address: 'alan@example.test',
    },
  });

  await mailbox.createItem(user.id, folderId(FolderType.Tasks), {
    class: 'Tasks',
    data: {
      subject: 'Add this account to a second device',
      complete: false,
      importance: 1,
      dueDate: new Date(now.getTime() + 3 * day),
      utcDueDate: new Date(now.getTime() + 3 * day),
      body: { type: 'plain', data: 'Two devices of one user see each other’s changes.' },
    },
  });

  await mailbox.createItem(user.id, folderId(FolderType.Notes), {
    class: 'Notes',
    data: {
      subject: 'Shopping list',
      body: { type: 'plain', data: 'Milk\nBread\nA phone that speaks ActiveSync' },
      messageClass: 'IPM.StickyNote',
      lastModifiedDate: now,
    },
  });
  return user;
}
