import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryMailboxStore } from '@easkit/mailbox';
import { MemoryDeviceStore } from '@easkit/policy';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateTestUsers, expectLibwbxmlReadsAll, USERS } from '../../test/harness.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import {
  convertOofBody,
  MemorySettingsStore,
  OofState,
  SettingsStatus,
  settingsCommand,
  userSmtpAddresses,
} from './settings.js';

const { Settings: ST, FolderHierarchy: FH } = eas;

/** Every response body of every server in this file, for the libwbxml check at the end. */
const responses: Uint8Array[] = [];

class SettingsServer {
  readonly mailbox = new MemoryMailboxStore();
  readonly devices = new MemoryDeviceStore();
  readonly store = new MemorySettingsStore();
  #server: Server | undefined;
  url = '';

  constructor(readonly withDevices = true) {}

  async start(): Promise<this> {
    await this.mailbox.createUser({
      id: USERS.alice.id,
      primarySmtpAddress: USERS.alice.id,
      aliases: ['a.liddell@example.com', 'ALICE@example.com', 'wonderland@example.org'],
      displayName: 'Alice Liddell',
    });
    await this.mailbox.createUser({ id: USERS.bob.id, primarySmtpAddress: USERS.bob.id });
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: {
        Settings: settingsCommand(
          { mailbox: this.mailbox, ...(this.withDevices ? { devices: this.devices } : {}) },
          { store: this.store },
        ),
      },
    });
    this.#server = createServer(createNodeListener({ handler, maxBodyBytes: 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

interface Reply {
  httpStatus: number;
  body: WbxmlElement | undefined;
}

async function settings(
  server: SettingsServer,
  version: ProtocolVersion,
  body: WbxmlElement | undefined,
  { deviceId = 'phone1', user = 'alice' }: { deviceId?: string; user?: keyof typeof USERS } = {},
): Promise<Reply> {
  const account = USERS[user];
  const query = `Cmd=Settings&User=${encodeURIComponent(account.id)}&DeviceId=${deviceId}&DeviceType=TestPhone`;
  const response = await fetch(`${server.url}/Microsoft-Server-ActiveSync?${query}`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
      'MS-ASProtocolVersion': version,
      'Content-Type': 'application/vnd.ms-sync.wbxml',
      'User-Agent': 'easkit-test/1.0',
    },
    body: body === undefined ? undefined : encode(body),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > 0) responses.push(bytes);
  return { httpStatus: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
}

/** The response's Settings element after checking HTTP 200 and the command Status. */
function settingsOf(reply: Reply, commandStatus: number = SettingsStatus.Success): WbxmlElement {
  expect(reply.httpStatus).toBe(200);
  expect(reply.body?.qualifiedName).toBe('Settings:Settings');
  expect(reply.body?.intOf('Status')).toBe(commandStatus);
  return reply.body!;
}

/** The element of one setting in a successful command, with its Status checked. */
function settingOf(reply: Reply, name: string, status: number): WbxmlElement {
  const element = settingsOf(reply).child(`Settings:${name}`);
  expect(element, `${name} in the response`).toBeDefined();
  expect(element!.intOf('Status')).toBe(status);
  return element!;
}

const oofGet = (bodyType = 'Text') => ST.Settings(ST.Oof(ST.Get(ST.BodyType(bodyType))));
const oofSet = (...content: WbxmlElement[]) => ST.Settings(ST.Oof(ST.Set(...content)));
const message = (applies: WbxmlElement, enabled: number, text: string, bodyType = 'Text') =>
  ST.OofMessage(applies, ST.Enabled(enabled), ST.ReplyMessage(text), ST.BodyType(bodyType));

/** Oof Get's answer as plain data: state, window and the three audiences in order. */
function readOof(reply: Reply) {
  const get = settingOf(reply, 'Oof', SettingsStatus.Success).require('Get');
  return {
    state: get.intOf('OofState'),
    start: get.textOf('StartTime'),
    end: get.textOf('EndTime'),
    messages: get.all('OofMessage').map((entry) => ({
      audience: entry.children[0]!.name,
      enabled: entry.intOf('Enabled'),
      text: entry.textOf('ReplyMessage'),
      bodyType: entry.textOf('BodyType'),
    })),
  };
}

const START = '2030-07-01T08:00:00.000Z';
const END = '2030-07-15T17:00:00.000Z';

afterAll(async () => {
  // Every answer this file produced, read by an implementation nobody here wrote.
  await expectLibwbxmlReadsAll(responses, 60);
});

describe.each(['12.1', '14.1', '16.1'] as const)('Settings over HTTP, protocol %s', (version) => {
  let server: SettingsServer;
  beforeAll(async () => {
    server = await new SettingsServer().start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('DeviceInformation Set is stored on the device record (created if new) with Status 1', async () => {
    const reply = await settings(
      server,
      version,
      ST.Settings(
        ST.DeviceInformation(
          ST.Set(
            ST.Model('Pixel 9'),
            ST.IMEI('356938035643809'),
            ST.FriendlyName("Alice's phone"),
            ST.OS('Android 15'),
            ST.OSLanguage('English'),
            ST.PhoneNumber('+15551234567'),
            ST.UserAgent('TestMail/2.0'),
            ST.MobileOperator('Example Mobile'),
            ST.EnableOutboundSMS('0'),
          ),
        ),
      ),
    );
    const element = settingOf(reply, 'DeviceInformation', SettingsStatus.Success);
    expect(element.children.map((child) => child.name)).toEqual(['Status']);
    const device = (await server.devices.getDevice(USERS.alice.id, 'phone1'))!;
    expect(device).toMatchObject({
      deviceType: 'TestPhone',
      protocolVersion: version,
      model: 'Pixel 9',
      imei: '356938035643809',
      friendlyName: "Alice's phone",
      os: 'Android 15',
      osLanguage: 'English',
      phoneNumber: '+15551234567',
      userAgent: 'TestMail/2.0',
      mobileOperator: 'Example Mobile',
    });

    // A later Set changes what it carries and keeps the rest.
    settingOf(
      await settings(server, version, ST.Settings(ST.DeviceInformation(ST.Set(ST.OS('Android 16'))))),
      'DeviceInformation',
      1,
    );
    expect(await server.devices.getDevice(USERS.alice.id, 'phone1')).toMatchObject({
      os: 'Android 16',
      model: 'Pixel 9',
    });
  });

  it('DeviceInformation without Set, or with Get, is Status 2 in its element; the device is left alone', async () => {
    for (const wrong of [ST.DeviceInformation(), ST.DeviceInformation(ST.Get())]) {
      const reply = await settings(server, version, ST.Settings(wrong), { deviceId: 'nodevice' });
      settingOf(reply, 'DeviceInformation', SettingsStatus.ProtocolError);
    }
    expect(await server.devices.getDevice(USERS.alice.id, 'nodevice')).toBeNull();
  });

  it('UserInformation Get lists the SMTP addresses, primary first, in the form of the version', async () => {
    const get = settingOf(
      await settings(server, version, ST.Settings(ST.UserInformation(ST.Get()))),
      'UserInformation',
      SettingsStatus.Success,
    ).require('Get');
    const expected = ['alice@example.com', 'a.liddell@example.com', 'wonderland@example.org'];
    if (version === '12.1') {
      expect(get.children.map((child) => child.name)).toEqual(['EmailAddresses']);
      expect(
        get
          .require('EmailAddresses')
          .all('SMTPAddress')
          .map((entry) => entry.text),
      ).toEqual(expected);
      return;
    }
    const accounts = get.require('Accounts').all('Account');
    expect(accounts).toHaveLength(1);
    const account = accounts[0]!;
    expect(account.textOf('UserDisplayName')).toBe('Alice Liddell');
    const addresses = account.require('EmailAddresses');
    expect(addresses.all('SMTPAddress').map((entry) => entry.text)).toEqual(expected);
    expect(addresses.textOf('PrimarySmtpAddress')).toBe('alice@example.com');
  });

  it('UserInformation for a user without aliases or display name', async () => {
    const get = settingOf(
      await settings(server, version, ST.Settings(ST.UserInformation(ST.Get())), { user: 'bob' }),
      'UserInformation',
      1,
    ).require('Get');
    const holder = version === '12.1' ? get : get.require('Accounts').require('Account');
    expect(holder.has('UserDisplayName')).toBe(false);
    expect(
      holder
        .require('EmailAddresses')
        .all('SMTPAddress')
        .map((entry) => entry.text),
    ).toEqual(['bob@example.com']);
  });

  it('UserInformation Set, or Get with content, is Status 2', async () => {
    settingOf(
      await settings(server, version, ST.Settings(ST.UserInformation(ST.Set()))),
      'UserInformation',
      SettingsStatus.ProtocolError,
    );
    settingOf(
      await settings(server, version, ST.Settings(ST.UserInformation(ST.Get(ST.BodyType('Text'))))),
      'UserInformation',
      SettingsStatus.ProtocolError,
    );
  });

  it('Oof: nothing set yet reads as disabled with every audience off', async () => {
    const oof = readOof(await settings(server, version, oofGet(), { user: 'bob' }));
    expect(oof.state).toBe(OofState.Disabled);
    expect(oof.start).toBeUndefined();
    expect(oof.messages).toEqual([
      { audience: 'AppliesToInternal', enabled: 0, text: '', bodyType: 'Text' },
      { audience: 'AppliesToExternalKnown', enabled: 0, text: '', bodyType: 'Text' },
      { audience: 'AppliesToExternalUnknown', enabled: 0, text: '', bodyType: 'Text' },
    ]);
  });

  it('Oof round trip: a scheduled window with internal and external replies, read back as Text and HTML', async () => {
    const set = await settings(
      server,
      version,
      oofSet(
        ST.OofState(2),
        ST.StartTime(START),
        ST.EndTime(END),
        message(ST.AppliesToInternal(), 1, '<p>Away until the 15th.</p><p>Ask Bob &amp; Carol.</p>', 'HTML'),
        message(ST.AppliesToExternalKnown(), 1, 'I am away.\nBack on 15 July.'),
        message(ST.AppliesToExternalUnknown(), 0, ''),
      ),
    );
    const element = settingOf(set, 'Oof', SettingsStatus.Success);
    expect(element.has('Get')).toBe(false);

    const text = readOof(await settings(server, version, oofGet('Text')));
    expect(text).toEqual({
      state: 2,
      start: START,
      end: END,
      messages: [
        {
          audience: 'AppliesToInternal',
          enabled: 1,
          text: 'Away until the 15th.\nAsk Bob & Carol.',
          bodyType: 'Text',
        },
        {
          audience: 'AppliesToExternalKnown',
          enabled: 1,
          text: 'I am away.\nBack on 15 July.',
          bodyType: 'Text',
        },
        { audience: 'AppliesToExternalUnknown', enabled: 0, text: '', bodyType: 'Text' },
      ],
    });
    const html = readOof(await settings(server, version, oofGet('HTML')));
    expect(html.messages[0]).toEqual({
      audience: 'AppliesToInternal',
      enabled: 1,
      text: '<p>Away until the 15th.</p><p>Ask Bob &amp; Carol.</p>',
      bodyType: 'HTML',
    });
    expect(html.messages[1]!.text).toBe('<html><body>I am away.<br>Back on 15 July.</body></html>');
    expect(html.messages[1]!.bodyType).toBe('HTML');

    // Turning it off keeps the replies and forgets the window (the spec stores times only for state 2).
    settingOf(
      await settings(server, version, oofSet(ST.OofState(0), ST.StartTime(START), ST.EndTime(END))),
      'Oof',
      1,
    );
    const off = readOof(await settings(server, version, oofGet()));
    expect(off.state).toBe(0);
    expect(off.start).toBeUndefined();
    expect(off.end).toBeUndefined();
    expect(off.messages[1]!.text).toBe('I am away.\nBack on 15 July.');
    // Global state; one audience changed, the others kept.
    settingOf(
      await settings(
        server,
        version,
        oofSet(ST.OofState(1), message(ST.AppliesToExternalUnknown(), 1, 'Away.')),
      ),
      'Oof',
      1,
    );
    const global = readOof(await settings(server, version, oofGet()));
    expect(global.state).toBe(1);
    expect(global.messages.map((entry) => [entry.enabled, entry.text])).toEqual([
      [1, 'Away until the 15th.\nAsk Bob & Carol.'],
      [1, 'I am away.\nBack on 15 July.'],
      [1, 'Away.'],
    ]);
    expect((await server.store.getOof(USERS.alice.id))?.state).toBe(1);
  });

  it('Oof statuses: malformed requests get 2, a window ending before it starts 5; nothing is stored', async () => {
    const before = await server.store.getOof(USERS.alice.id);
    const cases: [WbxmlElement, number][] = [
      [oofSet(ST.OofState(2), ST.StartTime(START)), 2],
      [oofSet(ST.OofState(2), ST.EndTime(END)), 2],
      [oofSet(ST.OofState(3)), 2],
      [oofSet(ST.OofState('on')), 2],
      [oofSet(ST.OofState(2), ST.StartTime('1 July 2030'), ST.EndTime(END)), 2],
      [oofSet(ST.OofState(1), ST.OofMessage(ST.Enabled(1), ST.ReplyMessage('no audience'))), 2],
      [
        oofSet(
          ST.OofState(1),
          ST.OofMessage(ST.AppliesToInternal(), ST.AppliesToExternalKnown(), ST.Enabled(1)),
        ),
        2,
      ],
      [oofSet(message(ST.AppliesToInternal(), 2, 'x')), 2],
      [oofSet(message(ST.AppliesToInternal(), 1, 'x', 'RTF')), 2],
      [oofSet(message(ST.AppliesToInternal(), 1, 'a'), message(ST.AppliesToInternal(), 1, 'b')), 2],
      [oofSet(ST.OofState(2), ST.StartTime(END), ST.EndTime(START)), SettingsStatus.InvalidArguments],
      [ST.Settings(ST.Oof(ST.Get(ST.BodyType('RTF')))), 2],
      [ST.Settings(ST.Oof(ST.Get())), 2],
      [ST.Settings(ST.Oof()), 2],
      [ST.Settings(ST.Oof(ST.Get(ST.BodyType('Text')), ST.Set(ST.OofState(0)))), 2],
    ];
    for (const [request, status] of cases) {
      const element = settingOf(await settings(server, version, request), 'Oof', status);
      expect(element.children.map((child) => child.name)).toEqual(['Status']);
    }
    expect(await server.store.getOof(USERS.alice.id)).toEqual(before);
    // A time-based state with no window at all (none sent, none kept) is malformed too.
    settingOf(await settings(server, version, oofSet(ST.OofState(2)), { user: 'bob' }), 'Oof', 2);
  });

  it('DevicePassword Set keeps the recovery password per device; empty clears; too long or missing is 2', async () => {
    settingOf(
      await settings(server, version, ST.Settings(ST.DevicePassword(ST.Set(ST.Password('r3cover-me'))))),
      'DevicePassword',
      SettingsStatus.Success,
    );
    expect(await server.store.getRecoveryPassword(USERS.alice.id, 'phone1')).toBe('r3cover-me');
    expect(await server.store.getRecoveryPassword(USERS.alice.id, 'other')).toBeUndefined();

    for (const wrong of [
      ST.DevicePassword(ST.Set(ST.Password('x'.repeat(256)))),
      ST.DevicePassword(ST.Set()),
      ST.DevicePassword(ST.Get()),
      ST.DevicePassword(),
    ]) {
      settingOf(await settings(server, version, ST.Settings(wrong)), 'DevicePassword', 2);
    }
    expect(await server.store.getRecoveryPassword(USERS.alice.id, 'phone1')).toBe('r3cover-me');

    settingOf(
      await settings(server, version, ST.Settings(ST.DevicePassword(ST.Set(ST.Password(''))))),
      'DevicePassword',
      1,
    );
    expect(await server.store.getRecoveryPassword(USERS.alice.id, 'phone1')).toBeUndefined();
  });

  it('RightsManagementInformation Get: an empty template list from 14.1; before 14.1 it is no setting', async () => {
    const reply = await settings(server, version, ST.Settings(ST.RightsManagementInformation(ST.Get())));
    if (version === '12.1') {
      expect(settingsOf(reply, SettingsStatus.ProtocolError).children).toHaveLength(1);
      return;
    }
    const get = settingOf(reply, 'RightsManagementInformation', 1).require('Get');
    const templates = get.require('RightsManagement:RightsManagementTemplates');
    expect(templates.children).toEqual([]);
    settingOf(
      await settings(server, version, ST.Settings(ST.RightsManagementInformation(ST.Set()))),
      'RightsManagementInformation',
      2,
    );
  });

  it('several settings in one request: one element each, in request order, each with its own status', async () => {
    const reply = await settings(
      server,
      version,
      ST.Settings(
        ST.DeviceInformation(ST.Set(ST.Model('Phone X'))),
        ST.Oof(ST.Get(ST.BodyType('XML'))),
        ST.UserInformation(ST.Get()),
        ST.DevicePassword(ST.Set(ST.Password('pw'))),
      ),
      { deviceId: 'multi' },
    );
    const root = settingsOf(reply);
    expect(root.children.map((child) => [child.name, child.intOf('Status')])).toEqual([
      ['Status', undefined],
      ['DeviceInformation', 1],
      ['Oof', 2],
      ['UserInformation', 1],
      ['DevicePassword', 1],
    ]);
    expect((await server.devices.getDevice(USERS.alice.id, 'multi'))?.model).toBe('Phone X');
  });

  it('a body that is not Settings, an unknown or repeated setting, or no body: command Status 2 only', async () => {
    const malformed: (WbxmlElement | undefined)[] = [
      FH.FolderSync(FH.SyncKey('0')),
      ST.Settings(ST.Model('stray')),
      ST.Settings(FH.SyncKey('0')),
      ST.Settings(ST.UserInformation(ST.Get()), ST.UserInformation(ST.Get())),
      undefined,
    ];
    for (const body of malformed) {
      const root = settingsOf(await settings(server, version, body), SettingsStatus.ProtocolError);
      expect(root.children.map((child) => child.name)).toEqual(['Status']);
    }
    // An empty Settings asks for nothing and gets only the command's Status 1.
    expect(settingsOf(await settings(server, version, ST.Settings())).children).toHaveLength(1);
  });
});

describe('Settings without a device store', () => {
  let server: SettingsServer;
  beforeAll(async () => {
    server = await new SettingsServer(false).start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(['12.1', '14.1', '16.1'] as const)(
    'DeviceInformation Set still answers Status 1 (%s)',
    async (version) => {
      const reply = await settings(server, version, ST.Settings(ST.DeviceInformation(ST.Set(ST.Model('M')))));
      settingOf(reply, 'DeviceInformation', SettingsStatus.Success);
      expect(await server.devices.getDevice(USERS.alice.id, 'phone1')).toBeNull();
    },
  );

  it('is not a command of 2.5 (501)', async () => {
    const reply = await settings(server, '2.5', ST.Settings(ST.UserInformation(ST.Get())));
    expect(reply.httpStatus).toBe(501);
  });
});

describe('Settings helpers', () => {
  it('userSmtpAddresses: primary first, aliases after, duplicates (any case) and empties dropped', () => {
    expect(
      userSmtpAddresses({ primarySmtpAddress: 'a@x.org', aliases: ['b@x.org', 'A@X.ORG', '', 'b@x.org'] }),
    ).toEqual(['a@x.org', 'b@x.org']);
  });

  it('convertOofBody: text is escaped into HTML, HTML loses markup, scripts and styles', () => {
    expect(convertOofBody('a < b & "c"\nd', 'Text', 'HTML')).toBe(
      '<html><body>a &lt; b &amp; &quot;c&quot;<br>d</body></html>',
    );
    expect(
      convertOofBody(
        '<html><head><style>p{color:red}</style></head><body>Hi&nbsp;there<br/>&#x263A; &#9731; &bogus;<script>x()</script></body></html>',
        'HTML',
        'Text',
      ),
    ).toBe('Hi there\n☺ ☃ &bogus;');
    expect(convertOofBody('same', 'HTML', 'HTML')).toBe('same');
  });

  it('MemorySettingsStore hands out copies', async () => {
    const store = new MemorySettingsStore();
    const start = new Date(START);
    await store.setOof('u', {
      state: 2,
      start,
      end: new Date(END),
      messages: { internal: { enabled: true, bodyType: 'Text', text: 'x' } },
    });
    start.setUTCFullYear(2000);
    const read = (await store.getOof('u'))!;
    expect(read.start?.toISOString()).toBe(START);
    (read.messages.internal as { text: string }).text = 'changed';
    expect((await store.getOof('u'))?.messages.internal?.text).toBe('x');
    await store.setRecoveryPassword('u', 'd', 'p');
    await store.setRecoveryPassword('u', 'd', null);
    expect(await store.getRecoveryPassword('u', 'd')).toBeUndefined();
  });
});
