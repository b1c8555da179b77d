import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryDeviceStore, policySettings } from '@easkit/policy';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateTestUsers, expectLibwbxmlReadsAll, USERS } from '../../test/harness.js';
import { expectWellFormedXml } from '../../test/provisioning.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import { type ProvisionCommandOptions, provisionCommand } from './provision.js';
import { PolicyType, policyTypeFor, settingsInVersion } from './provision-document.js';

const { Provision: PR, Settings: ST } = eas;
const WIPED_AT = new Date('2030-01-02T03:04:05Z');

/** Every response body of every server in this file, for the libwbxml check at the end. */
const responses: Uint8Array[] = [];

class ProvisionServer {
  readonly devices = new MemoryDeviceStore();
  #server: Server | undefined;
  url = '';

  constructor(readonly options: ProvisionCommandOptions = {}) {}

  async start(): Promise<this> {
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: {
        Provision: provisionCommand({ devices: this.devices }, { now: () => WIPED_AT, ...this.options }),
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

async function provision(
  server: ProvisionServer,
  version: ProtocolVersion,
  deviceId: string,
  body: WbxmlElement | undefined,
  policyKey?: number,
): Promise<Reply> {
  const account = USERS.alice;
  const query = `Cmd=Provision&User=${encodeURIComponent(account.id)}&DeviceId=${deviceId}&DeviceType=TestPhone`;
  const response = await fetch(`${server.url}/Microsoft-Server-ActiveSync?${query}`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
      'MS-ASProtocolVersion': version,
      'Content-Type': 'application/vnd.ms-sync.wbxml',
      'User-Agent': 'easkit-test/1.0',
      ...(policyKey === undefined ? {} : { 'X-MS-PolicyKey': String(policyKey) }),
    },
    body: body === undefined ? undefined : encode(body),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > 0) responses.push(bytes);
  return { httpStatus: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
}

function download(version: ProtocolVersion, type: string = policyTypeFor(version), extra?: WbxmlElement) {
  return PR.Provision(extra ?? null, PR.Policies(PR.Policy(PR.PolicyType(type))));
}

function acknowledgement(version: ProtocolVersion, key: string, status = 1) {
  return PR.Provision(
    PR.Policies(PR.Policy(PR.PolicyType(policyTypeFor(version)), PR.PolicyKey(key), PR.Status(status))),
  );
}

function policyOf(reply: Reply): WbxmlElement {
  expect(reply.httpStatus).toBe(200);
  expect(reply.body?.intOf('Status')).toBe(1);
  const policy = reply.body?.child('Policies')?.child('Policy');
  expect(policy).toBeDefined();
  return policy!;
}

let server: ProvisionServer;
beforeAll(async () => {
  server = await new ProvisionServer().start();
});
afterAll(async () => {
  await server.stop();
  // Every policy document and status answer this file produced, read by an implementation nobody here wrote.
  await expectLibwbxmlReadsAll(responses, 30);
});

describe.each(['2.5', '12.1', '14.1', '16.1'] as const)('Provision over HTTP, protocol %s', (version) => {
  const id = (name: string) => `${name}${version.replace('.', '')}`;

  it('two phases: a temporary key with the policy document, then the final key stored on the device', async () => {
    const deviceId = id('twophase');
    const first = policyOf(await provision(server, version, deviceId, download(version)));
    expect(first.textOf('PolicyType')).toBe(policyTypeFor(version));
    expect(first.intOf('Status')).toBe(1);
    const temporary = first.textOf('PolicyKey')!;
    expect(temporary).toMatch(/^[1-9]\d*$/);
    const data = first.child('Data')!;
    if (version === '2.5') {
      expect(typeof data.text).toBe('string');
      expectWellFormedXml(data.text!);
      expect(data.text).toMatch(/^<wap-provisioningdoc>/);
      expect(data.text).toContain('<characteristic type="SecurityPolicy"><parm name="4131" value="1"/>');
    } else {
      const document = data.child('EASProvisionDoc')!;
      expect(document.children.map((setting) => setting.name)).toEqual(
        settingsInVersion(version).map((spec) => spec.tag),
      );
    }
    let device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
    expect(device.pendingPolicyKey).toBe(Number(temporary));
    expect(device.policyState).toBe('pending');
    expect(device.userAgent).toBe('easkit-test/1.0');
    expect(device.protocolVersion).toBe(version);

    const second = policyOf(
      await provision(server, version, deviceId, acknowledgement(version, temporary), Number(temporary)),
    );
    expect(second.intOf('Status')).toBe(1);
    expect(second.has('Data')).toBe(false);
    const final = Number(second.textOf('PolicyKey'));
    expect(final).not.toBe(Number(temporary));
    device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
    expect(device.policyKey).toBe(final);
    expect(device.policyState).toBe('provisioned');
    expect(device.pendingPolicyKey).toBeUndefined();

    // The temporary key is spent: acknowledging it again is the wrong key.
    const again = policyOf(await provision(server, version, deviceId, acknowledgement(version, temporary)));
    expect(again.intOf('Status')).toBe(5);
  });

  it('a wrong temporary key gets Policy Status 5 and leaves the pending key in place', async () => {
    const deviceId = id('wrongkey');
    const temporary = Number(
      policyOf(await provision(server, version, deviceId, download(version))).textOf('PolicyKey'),
    );
    const wrong = String(temporary === 0xffff_ffff ? 1 : temporary + 1);
    const refused = policyOf(await provision(server, version, deviceId, acknowledgement(version, wrong)));
    expect(refused.intOf('Status')).toBe(5);
    expect(refused.has('PolicyKey')).toBe(false);
    expect(
      policyOf(await provision(server, version, deviceId, acknowledgement(version, 'abc'))).intOf('Status'),
    ).toBe(5);
    const device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
    expect(device.pendingPolicyKey).toBe(temporary);
    expect(device.policyKey).toBe(0);
    // A key for a device that never downloaded a policy is wrong too.
    const stranger = policyOf(
      await provision(server, version, id('stranger'), acknowledgement(version, '12345')),
    );
    expect(stranger.intOf('Status')).toBe(5);
    // The right key still works.
    const done = policyOf(
      await provision(server, version, deviceId, acknowledgement(version, String(temporary))),
    );
    expect(done.intOf('Status')).toBe(1);
  });

  it('a PolicyType of another version is Policy Status 3; no Policies is Provision Status 2', async () => {
    const other = version === '2.5' ? PolicyType.EasWbxml : PolicyType.WapXml;
    for (const type of [other, 'MS-Nonsense']) {
      const policy = policyOf(await provision(server, version, id('badtype'), download(version, type)));
      expect(policy.intOf('Status')).toBe(3);
      expect(policy.has('PolicyKey')).toBe(false);
    }
    const empty = await provision(server, version, id('badtype'), PR.Provision());
    expect(empty.body?.intOf('Status')).toBe(2);
    const bodyless = await provision(server, version, id('badtype'), undefined);
    expect(bodyless.body?.intOf('Status')).toBe(2);
  });

  it("renders the user's assigned policy", async () => {
    const store = new MemoryDeviceStore();
    const own = await new ProvisionServerWith(store).start();
    try {
      await store.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({
          devicePasswordEnabled: true,
          alphanumericDevicePasswordRequired: true,
          minDevicePasswordLength: 6,
          maxInactivityTimeDeviceLock: 300,
          maxDevicePasswordFailedAttempts: 8,
          allowCamera: false,
          approvedApplicationList: ['0123456789abcdef0123456789abcdef01234567'],
        }),
      });
      await store.assignPolicy(USERS.alice.id, 'strict');
      const data = policyOf(await provision(own, version, id('strict'), download(version))).child('Data')!;
      if (version === '2.5') {
        const xml = data.text!;
        expectWellFormedXml(xml);
        expect(xml).toContain('<parm name="4131" value="0"/>');
        expect(xml).toContain('<parm name="MinimumPasswordLength" value="6"/>');
        expect(xml).toContain('<parm name="PasswordComplexity" value="0"/>');
        expect(xml).toContain('<parm name="AEFrequencyValue" value="5"/>');
        expect(xml).toContain('<parm name="DeviceWipeThreshold" value="8"/>');
      } else {
        const document = data.child('EASProvisionDoc')!;
        expect(document.textOf('DevicePasswordEnabled')).toBe('1');
        expect(document.textOf('MinDevicePasswordLength')).toBe('6');
        expect(document.textOf('AllowCamera')).toBe('0');
        expect(document.textOf('MaxAttachmentSize')).toBe('');
        expect(
          document
            .child('ApprovedApplicationList')
            ?.all('Hash')
            .map((hash) => hash.text),
        ).toEqual(['0123456789abcdef0123456789abcdef01234567']);
      }
    } finally {
      await own.stop();
    }
  });

  it('remote wipe is delivered instead of a policy and its acknowledgement recorded with the time', async () => {
    const deviceId = id('wipe');
    await provision(server, version, deviceId, download(version));
    await server.devices.updateDevice(USERS.alice.id, deviceId, {
      wipe: {
        state: 'requested',
        kind: 'full',
        requestedAt: new Date('2030-01-01T00:00:00Z'),
        requestedBy: 'admin',
      },
    });
    const delivered = await provision(server, version, deviceId, download(version));
    expect(delivered.body?.intOf('Status')).toBe(1);
    expect(delivered.body?.has('RemoteWipe')).toBe(true);
    expect(delivered.body?.has('Policies')).toBe(false);
    expect((await server.devices.getDevice(USERS.alice.id, deviceId))!.wipe.state).toBe('pending');

    const failed = await provision(server, version, deviceId, PR.Provision(PR.RemoteWipe(PR.Status(2))));
    expect(failed.body?.intOf('Status')).toBe(2);
    expect(failed.body?.has('RemoteWipe')).toBe(true);

    const acknowledged = await provision(
      server,
      version,
      deviceId,
      PR.Provision(PR.RemoteWipe(PR.Status(1))),
    );
    expect(acknowledged.body?.intOf('Status')).toBe(1);
    const device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
    expect(device.wipe).toMatchObject({
      state: 'acknowledged',
      kind: 'full',
      acknowledgedAt: WIPED_AT,
      requestedBy: 'admin',
    });
    // Still wiped: the next Provision repeats the directive rather than handing out a policy.
    expect((await provision(server, version, deviceId, download(version))).body?.has('RemoteWipe')).toBe(
      true,
    );
    // A wipe acknowledgement from a device nobody asked to wipe is a protocol error.
    const unasked = await provision(
      server,
      version,
      id('unasked'),
      PR.Provision(PR.RemoteWipe(PR.Status(1))),
    );
    expect(unasked.body?.intOf('Status')).toBe(2);
  });
});

/** A server over a store the test prepared. */
class ProvisionServerWith extends ProvisionServer {
  constructor(store: MemoryDeviceStore, options: ProvisionCommandOptions = {}) {
    super(options);
    Object.defineProperty(this, 'devices', { value: store });
  }
}

describe('Provision details by version', () => {
  it.each(['14.1', '16.1'] as const)(
    '%s: DeviceInformation is stored on the device and answered',
    async (version) => {
      const deviceId = `info${version.replace('.', '')}`;
      const information = ST.DeviceInformation(
        ST.Set(
          ST.Model('Pixel 9'),
          ST.IMEI('356938035643809'),
          ST.FriendlyName("Alice's phone"),
          ST.OS('Android 15'),
          ST.OSLanguage('English'),
          ST.PhoneNumber('+15555550100'),
          ST.MobileOperator('Example Mobile'),
          ST.UserAgent('ExampleMail/2.0'),
        ),
      );
      const reply = await provision(server, version, deviceId, download(version, undefined, information));
      expect(reply.body?.child('DeviceInformation')?.intOf('Status')).toBe(1);
      policyOf(reply);
      const device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
      expect(device).toMatchObject({
        model: 'Pixel 9',
        imei: '356938035643809',
        friendlyName: "Alice's phone",
        os: 'Android 15',
        osLanguage: 'English',
        phoneNumber: '+15555550100',
        mobileOperator: 'Example Mobile',
        userAgent: 'ExampleMail/2.0',
        deviceType: 'TestPhone',
      });
    },
  );

  it('16.1: account-only wipe is delivered as AccountOnlyRemoteWipe and acknowledged', async () => {
    const deviceId = 'accountonly161';
    await provision(server, '16.1', deviceId, download('16.1'));
    await server.devices.updateDevice(USERS.alice.id, deviceId, {
      wipe: { state: 'requested', kind: 'account-only', requestedAt: new Date('2030-01-01T00:00:00Z') },
    });
    const delivered = await provision(server, '16.1', deviceId, download('16.1'));
    expect(delivered.body?.has('AccountOnlyRemoteWipe')).toBe(true);
    expect(delivered.body?.has('RemoteWipe')).toBe(false);
    // The acknowledgement must name the kind of wipe that was asked for.
    const mismatched = await provision(server, '16.1', deviceId, PR.Provision(PR.RemoteWipe(PR.Status(1))));
    expect(mismatched.body?.intOf('Status')).toBe(2);
    const acknowledged = await provision(
      server,
      '16.1',
      deviceId,
      PR.Provision(PR.AccountOnlyRemoteWipe(PR.Status(1))),
    );
    expect(acknowledged.body?.intOf('Status')).toBe(1);
    const device = (await server.devices.getDevice(USERS.alice.id, deviceId))!;
    expect(device.wipe).toMatchObject({
      state: 'acknowledged',
      kind: 'account-only',
      acknowledgedAt: WIPED_AT,
    });
  });

  it('14.1: an account-only wipe is not turned into a full wipe for a device older than 16.1', async () => {
    const deviceId = 'accountonly141';
    await provision(server, '14.1', deviceId, download('14.1'));
    await server.devices.updateDevice(USERS.alice.id, deviceId, {
      wipe: { state: 'requested', kind: 'account-only' },
    });
    const reply = await provision(server, '14.1', deviceId, download('14.1'));
    expect(reply.body?.has('RemoteWipe')).toBe(false);
    expect(policyOf(reply).intOf('Status')).toBe(1);
  });

  it('partial compliance is accepted by default; a server that refuses it answers 139 (14.0+) or 403 (older)', async () => {
    const partial = policyOf(
      await provision(
        server,
        '14.1',
        'partial141',
        acknowledgement(
          '14.1',
          policyOf(await provision(server, '14.1', 'partial141', download('14.1'))).textOf('PolicyKey')!,
          2,
        ),
      ),
    );
    expect(partial.intOf('Status')).toBe(1);

    const strict = await new ProvisionServer({ acceptAcknowledgement: (status) => status === 1 }).start();
    try {
      for (const [version, expected] of [
        ['14.1', 139],
        ['12.1', 403],
      ] as const) {
        const deviceId = `strict${version.replace('.', '')}`;
        const key = policyOf(await provision(strict, version, deviceId, download(version))).textOf(
          'PolicyKey',
        )!;
        const reply = await provision(strict, version, deviceId, acknowledgement(version, key, 3));
        if (expected === 403) expect(reply.httpStatus).toBe(403);
        else expect(reply.body?.intOf('Status')).toBe(139);
        const device = (await strict.devices.getDevice(USERS.alice.id, deviceId))!;
        expect(device.policyKey).toBe(0);
        expect(device.pendingPolicyKey).toBeUndefined();
      }
    } finally {
      await strict.stop();
    }
  });
});
