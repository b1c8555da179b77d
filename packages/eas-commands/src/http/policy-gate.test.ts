import { type DeviceActivity, MemoryDeviceStore, policySettings } from '@easkit/policy';
import type { ProtocolVersion } from '@easkit/wbxml';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll } from '../../test/harness.js';
import {
  expectWellFormedXml,
  type GatedDevice,
  type GatedReply,
  GatedServer,
  policyOf,
} from '../../test/provisioning.js';
import type { EasCommandName } from './commands.js';
import {
  COMMAND_STATUS_HOME,
  createPolicyGate,
  GATE_ANSWERS,
  type GateRefusal,
  refusalBody,
} from './policy-gate.js';
import { atLeast } from './protocol-version.js';

const ALICE = 'alice@example.com';
const responses: Uint8Array[] = [];
const servers: GatedServer[] = [];

async function start(...args: ConstructorParameters<typeof GatedServer>): Promise<GatedServer> {
  const [devices, options = {}] = args;
  const server = await new GatedServer(devices, { ...options, responses }).start();
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

afterAll(async () => {
  // Every refusal, policy document and wipe directive this file produced, read by libwbxml.
  await expectLibwbxmlReadsAll(responses, 100);
});

/** The answer each version must get for a refusal: the status in the command's own element, or HTTP. */
function expectRefused(reply: GatedReply, version: ProtocolVersion, refusal: GateRefusal, command: string) {
  const answer = GATE_ANSWERS[refusal];
  if (atLeast(version, '14.0')) {
    expect(reply.http, `${command} ${refusal}`).toBe(200);
    expect(reply.body?.name).toBe(command);
    expect(reply.status, `${command} ${refusal}`).toBe(answer.status);
  } else {
    expect(reply.http, `${command} ${refusal}`).toBe(answer.legacyHttpStatus);
    expect(reply.body).toBeUndefined();
  }
}

async function expectFolderSyncWorks(device: GatedDevice): Promise<void> {
  const reply = await device.folderSync();
  expect(reply.http).toBe(200);
  expect(reply.status).toBe(1);
}

describe('the status table', () => {
  it('has a home for the Status of every command but GetAttachment, in the command’s own namespace', () => {
    for (const [command, home] of Object.entries(COMMAND_STATUS_HOME)) {
      if (command === 'GetAttachment') {
        expect(home).toBeNull();
        continue;
      }
      const body = refusalBody(command as EasCommandName, 142);
      expect(body?.name).toBe(home?.[1]);
      expect(body?.namespace).toBe(home?.[0]);
      expect(body?.intOf('Status')).toBe(142);
    }
  });

  it('uses the MS-ASCMD common status numbers', () => {
    expect(
      Object.fromEntries(Object.entries(GATE_ANSWERS).map(([name, answer]) => [name, answer.status])),
    ).toEqual({
      wipe: 140,
      'not-provisioned': 142,
      'policy-refresh': 143,
      'invalid-policy-key': 144,
      blocked: 129,
      quarantined: 130,
      'user-disabled': 126,
      'eas-disabled': 127,
    });
  });
});

describe.each(['2.5', '12.1', '14.1', '16.1'] as const)(
  'the policy gate over HTTP, protocol %s',
  (version) => {
    it('first contact: refused until provisioned, then FolderSync, Sync and Ping work; the device is listed', async () => {
      const server = await start();
      const phone = server.device('alice', 'first', version);
      expectRefused(await phone.folderSync(), version, 'not-provisioned', 'FolderSync');
      expectRefused(await phone.sync(), version, 'not-provisioned', 'Sync');
      const download = await phone.download();
      if (version === '2.5') {
        const data = policyOf(download.body)?.child('Provision:Data');
        expectWellFormedXml(data!.text!);
      } else {
        expect(
          policyOf(download.body)?.child('Provision:Data')?.child('Provision:EASProvisionDoc'),
        ).toBeDefined();
      }
      const temporary = policyOf(download.body)!.textOf('PolicyKey')!;
      expectRefused(
        await phone.send('FolderSync', undefined, Number(temporary)),
        version,
        'invalid-policy-key',
        'FolderSync',
      );
      const final = policyOf((await phone.acknowledge(temporary)).body)!.textOf('PolicyKey');
      phone.policyKey = Number(final);
      await expectFolderSyncWorks(phone);
      expect((await phone.sync()).http).toBe(200);
      const [listed] = (await server.admin.listDevices({ user: ALICE })).devices;
      expect(listed).toMatchObject({ deviceId: 'first', condition: 'active', protocolVersion: version });
      expect(listed?.policyVersion).toEqual({ policyId: null, version: 1 });
      expect(listed?.stats.syncCount).toBe(1);
      expect(listed?.stats.lastSyncAt).toBeInstanceOf(Date);
    });

    it('wrong, missing and stale keys; a policy change forces exactly one new Provision', async () => {
      const server = await start();
      const root = server.admin.as('root');
      await root.putPolicy({ id: 'staff', name: 'Staff', settings: policySettings({ allowCamera: false }) });
      await root.setDefaultPolicy('staff');
      const phone = server.device('alice', 'keys', version);
      const key = await phone.provision();
      expectRefused(
        await phone.send('FolderSync', undefined, key + 1),
        version,
        'invalid-policy-key',
        'FolderSync',
      );
      expectRefused(await phone.send('FolderSync', undefined, 0), version, 'not-provisioned', 'FolderSync');
      await expectFolderSyncWorks(phone);

      await root.putPolicy({ id: 'staff', name: 'Staff', settings: policySettings({ allowCamera: true }) });
      expectRefused(await phone.folderSync(), version, 'policy-refresh', 'FolderSync');
      expectRefused(await phone.sync(), version, 'policy-refresh', 'Sync');
      await phone.provision();
      for (let round = 0; round < 3; round++) await expectFolderSyncWorks(phone);

      // Another policy for the user (not a new version of the same one) also counts as a change.
      await root.putPolicy({ id: 'vip', name: 'VIP', settings: policySettings() });
      await root.setUserPolicy(ALICE, 'vip');
      expectRefused(await phone.folderSync(), version, 'policy-refresh', 'FolderSync');
      await phone.provision();
      await expectFolderSyncWorks(phone);
      const device = await server.devices.getDevice(ALICE, 'keys');
      expect(device?.policyVersion).toEqual({ policyId: 'vip', version: 1 });
    });

    it('Ping needs no key, but a wipe reaches it', async () => {
      const server = await start();
      const phone = server.device('alice', 'pinger', version);
      // Without a key and without a FolderSync: Ping's own answer (7, hierarchy out of date), not the gate's.
      const reply = await phone.ping();
      expect(reply.http).toBe(200);
      expect(reply.body?.name).toBe('Ping');
      expect(reply.status).toBe(7);
      await server.admin.as('root').wipe(ALICE, 'pinger');
      expectRefused(await phone.ping(), version, 'wipe', 'Ping');
    });

    it('a wipe or a block ends a waiting Ping at once; the next Ping gets the gate’s answer', async () => {
      const server = await start();
      const phone = server.device('alice', 'waiting', version);
      await phone.provision();
      await expectFolderSyncWorks(phone);
      let waiting = phone.ping();
      await server.waiting(1);
      await server.admin.as('root').block(ALICE, 'waiting');
      expect((await waiting).status, 'the interrupted Ping asks the device to ask again').toBe(1);
      expectRefused(await phone.ping(), version, 'blocked', 'Ping');
      await server.admin.as('root').allow(ALICE, 'waiting');
      waiting = phone.ping();
      await server.waiting(1);
      await server.admin.as('root').wipe(ALICE, 'waiting');
      expect((await waiting).status).toBe(1);
      expect(server.waiters.stats().waiters).toBe(0);
      expectRefused(await phone.ping(), version, 'wipe', 'Ping');
    });

    it('remote wipe: delivered during FolderSync, Sync and Ping, acknowledged with times, and sticky until cleared', async () => {
      const server = await start();
      const phone = server.device('alice', 'lost', version);
      await phone.provision();
      await expectFolderSyncWorks(phone);
      await server.admin.as('helpdesk').wipe(ALICE, 'lost');
      expectRefused(await phone.folderSync(), version, 'wipe', 'FolderSync');
      expectRefused(await phone.sync(), version, 'wipe', 'Sync');
      expectRefused(await phone.ping(), version, 'wipe', 'Ping');
      const directive = await phone.download();
      expect(directive.http).toBe(200);
      expect(directive.body?.child('Provision:RemoteWipe')).toBeDefined();
      expect(policyOf(directive.body)).toBeUndefined();
      expect((await server.devices.getDevice(ALICE, 'lost'))?.wipe).toMatchObject({
        state: 'pending',
        kind: 'full',
        requestedBy: 'helpdesk',
        deliveredAt: expect.any(Date),
      });
      expect((await phone.acknowledgeWipe('RemoteWipe')).status).toBe(1);
      const wiped = await server.admin.getDevice(ALICE, 'lost');
      expect(wiped?.condition).toBe('wiped');
      expect(wiped?.wipe.acknowledgedAt).toBeInstanceOf(Date);
      expect(wiped!.wipe.acknowledgedAt!.getTime()).toBeGreaterThanOrEqual(
        wiped!.wipe.requestedAt!.getTime(),
      );

      // The wiped device comes back (factory reset, account added again): still refused, still told to wipe.
      phone.policyKey = undefined;
      expectRefused(await phone.folderSync(), version, 'wipe', 'FolderSync');
      expect((await phone.download()).body?.child('Provision:RemoteWipe')).toBeDefined();
      await server.admin.as('helpdesk').clearWipe(ALICE, 'lost');
      expectRefused(await phone.folderSync(), version, 'not-provisioned', 'FolderSync');
      await phone.provision();
      await expectFolderSyncWorks(phone);
      const actions = (await server.admin.auditLog({ user: ALICE, deviceId: 'lost' })).entries.map(
        (e) => e.action,
      );
      expect(actions).toEqual(['clear-wipe', 'wipe']);
    });

    it('a wipe survives a server restart and reaches a user who has been disabled since', async () => {
      const devices = new MemoryDeviceStore();
      const first = await start(devices);
      const phone = first.device('alice', 'restart', version);
      await phone.provision();
      await first.admin.as('root').wipe(ALICE, 'restart');
      await first.admin.as('root').setUserEasEnabled(ALICE, false);
      await first.stop();
      servers.splice(servers.indexOf(first), 1);

      const second = await start(devices);
      const again = second.device('alice', 'restart', version);
      again.policyKey = phone.policyKey;
      expectRefused(await again.folderSync(), version, 'wipe', 'FolderSync');
      expect((await again.download()).body?.child('Provision:RemoteWipe')).toBeDefined();
      expect((await again.acknowledgeWipe('RemoteWipe')).status).toBe(1);
      expect((await devices.getDevice(ALICE, 'restart'))?.wipe.state).toBe('acknowledged');
      // A different device of the disabled user gets the EAS switch's answer.
      expectRefused(
        await second.device('alice', 'other', version).folderSync(),
        version,
        'user-disabled',
        'FolderSync',
      );
    });

    it('account-only wipe: the 16.1 directive where the device can do it, otherwise the device is shut out', async () => {
      const server = await start();
      const phone = server.device('alice', 'byod', version);
      await phone.provision();
      await server.admin.as('root').accountOnlyWipe(ALICE, 'byod');
      if (version !== '16.1') {
        expectRefused(await phone.folderSync(), version, 'blocked', 'FolderSync');
        return;
      }
      expectRefused(await phone.folderSync(), version, 'wipe', 'FolderSync');
      expectRefused(await phone.ping(), version, 'wipe', 'Ping');
      const directive = await phone.download();
      expect(directive.body?.child('Provision:AccountOnlyRemoteWipe')).toBeDefined();
      expect((await phone.acknowledgeWipe('AccountOnlyRemoteWipe')).status).toBe(1);
      const device = await server.devices.getDevice(ALICE, 'byod');
      expect(device?.wipe).toMatchObject({ state: 'acknowledged', kind: 'account-only' });
      expectRefused(await phone.folderSync(), version, 'wipe', 'FolderSync');
    });

    it('quarantine of new devices by default, approval releasing them', async () => {
      const server = await start();
      await server.admin.as('root').setDefaultAccess('quarantined');
      const phone = server.device('alice', 'newbie', version);
      expectRefused(await phone.folderSync(), version, 'quarantined', 'FolderSync');
      expectRefused(await phone.download(), version, 'quarantined', 'Provision');
      const listed = await server.admin.getDevice(ALICE, 'newbie');
      expect(listed?.condition).toBe('quarantined');
      expect(listed?.access).toEqual({ state: 'quarantined', reason: 'global-default' });
      await server.admin.as('root').approve(ALICE, 'newbie', 'checked by IT');
      await phone.provision();
      await expectFolderSyncWorks(phone);
      // Devices known before the default changed keep their access.
      await server.admin.as('root').setDefaultAccess('blocked');
      await expectFolderSyncWorks(phone);
    });

    it('block rules by user agent and by model; a quarantine rule names itself as the reason', async () => {
      const server = await start();
      const root = server.admin.as('root');
      await root.putRule({
        id: 'old-mail',
        priority: 10,
        action: 'block',
        match: { userAgent: 'OldMail/*' },
      });
      const old = server.device('alice', 'oldmail', version, { userAgent: 'OldMail/1.2' });
      expectRefused(await old.folderSync(), version, 'blocked', 'FolderSync');
      expectRefused(await old.download(), version, 'blocked', 'Provision');

      await root.putRule({
        id: 'droids',
        priority: 5,
        action: 'quarantine',
        match: { deviceType: 'Droid*' },
      });
      const droid = server.device('alice', 'droid', version, { deviceType: 'DroidX' });
      expectRefused(await droid.folderSync(), version, 'quarantined', 'FolderSync');
      expect((await server.devices.getDevice(ALICE, 'droid'))?.access).toEqual({
        state: 'quarantined',
        reason: 'rule',
        ruleId: 'droids',
      });

      // The model is reported in the Provision request (14.1+) or by Settings; a rule added later applies at
      // the next request.
      const phone = server.device('alice', 'modelled', version, { model: 'Brick 3000' });
      await phone.provision();
      if (!atLeast(version, '14.1')) {
        await server.devices.updateDevice(ALICE, 'modelled', { model: 'Brick 3000' });
      }
      await expectFolderSyncWorks(phone);
      await root.putRule({ id: 'bricks', priority: 1, action: 'block', match: { model: 'brick *' } });
      expectRefused(await phone.folderSync(), version, 'blocked', 'FolderSync');
      // An individual decision beats the rule.
      await root.allow(ALICE, 'modelled');
      await expectFolderSyncWorks(phone);
    });

    it('EAS disabled for one user, then for everyone, and enabled again', async () => {
      const server = await start();
      const alice = server.device('alice', 'a1', version);
      const bob = server.device('bob', 'b1', version);
      await alice.provision();
      await bob.provision();
      await server.admin.as('root').setUserEasEnabled(ALICE, false);
      expectRefused(await alice.folderSync(), version, 'user-disabled', 'FolderSync');
      expectRefused(await alice.download(), version, 'user-disabled', 'Provision');
      await expectFolderSyncWorks(bob);
      await server.admin.as('root').setEasEnabled(false);
      expectRefused(await bob.folderSync(), version, 'eas-disabled', 'FolderSync');
      expectRefused(await bob.ping(), version, 'eas-disabled', 'Ping');
      await server.admin.as('root').setEasEnabled(true);
      await server.admin.as('root').setUserEasEnabled(ALICE, null);
      await expectFolderSyncWorks(alice);
      await expectFolderSyncWorks(bob);
    });

    it('a device that declines a required setting gets no key, unless the policy allows non-provisionable devices', async () => {
      const server = await start();
      const root = server.admin.as('root');
      await root.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({ requireDeviceEncryption: true }),
      });
      await root.setDefaultPolicy('strict');
      const phone = server.device('alice', 'declines', version);
      const temporary = policyOf((await phone.download()).body)!.textOf('PolicyKey')!;
      const refused = await phone.acknowledge(temporary, 3);
      if (atLeast(version, '14.0')) {
        expect(refused.http).toBe(200);
        expect(refused.status).toBe(139);
      } else {
        expect(refused.http).toBe(403);
      }
      expect((await server.devices.getDevice(ALICE, 'declines'))?.policyKey).toBe(0);
      expectRefused(await phone.folderSync(), version, 'not-provisioned', 'FolderSync');

      await root.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({ requireDeviceEncryption: true }),
        allowNonProvisionableDevices: true,
      });
      // Without a key at all the device may now sync; and its "not applied" acknowledgement earns a key.
      await expectFolderSyncWorks(phone);
      const again = policyOf((await phone.download()).body)!.textOf('PolicyKey')!;
      const accepted = await phone.acknowledge(again, 3);
      expect(accepted.status).toBe(1);
      phone.policyKey = Number(policyOf(accepted.body)!.textOf('PolicyKey'));
      await expectFolderSyncWorks(phone);
    });
  },
);

describe('no provisioning loops across protocol versions', () => {
  it.each([
    ['12.1', '14.1'],
    ['14.1', '12.1'],
  ] as const)(
    'a device provisioned at %s keeps its key at %s and back; one policy change, one Provision',
    async (from, to) => {
      const server = await start();
      const phone = server.device('alice', `switch${from}`, from);
      const key = await phone.provision();
      await expectFolderSyncWorks(phone);
      phone.version = to;
      await expectFolderSyncWorks(phone);
      expect((await phone.sync()).http).toBe(200);
      phone.version = from;
      await expectFolderSyncWorks(phone);
      expect((await server.devices.getDevice(ALICE, `switch${from}`))?.policyKey).toBe(key);

      await server.admin.as('root').putPolicy({ id: 'p', name: 'P', settings: policySettings() });
      await server.admin.as('root').setDefaultPolicy('p');
      phone.version = to;
      expectRefused(await phone.folderSync(), to, 'policy-refresh', 'FolderSync');
      await phone.provision();
      for (const version of [to, from, to] as const) {
        phone.version = version;
        await expectFolderSyncWorks(phone);
      }
      const provisions = (await server.devices.getDevice(ALICE, `switch${from}`))?.policyVersion;
      expect(provisions).toEqual({ policyId: 'p', version: 1 });
    },
  );
});

describe('gate options', () => {
  it('withoutPolicy "skip" lets devices sync without a key while no policy exists', async () => {
    const server = await start(undefined, { gate: { withoutPolicy: 'skip' } });
    const phone = server.device('alice', 'nopolicy', '14.1');
    await expectFolderSyncWorks(phone);
    await server.admin.as('root').putPolicy({ id: 'p', name: 'P', settings: policySettings() });
    await server.admin.as('root').setDefaultPolicy('p');
    expectRefused(await phone.folderSync(), '14.1', 'not-provisioned', 'FolderSync');
  });

  it('keyExempt: [] makes Ping need a key too', async () => {
    const server = await start(undefined, { gate: { keyExempt: [] } });
    expectRefused(
      await server.device('alice', 'strictping', '14.1').ping(),
      '14.1',
      'not-provisioned',
      'Ping',
    );
  });
});

describe('interrupt', () => {
  it('aborts the tracked requests of the scope only, follows the client’s signal, and forgets released ones', () => {
    const gate = createPolicyGate({ devices: new MemoryDeviceStore() });
    const client = new AbortController();
    const a1 = gate.track('a', 'd1', client.signal);
    const a2 = gate.track('a', 'd2', undefined);
    const b1 = gate.track('b', 'd1', undefined);
    expect(gate.interrupt({ user: 'a', deviceId: 'd1' })).toBe(1);
    expect([a1.signal.aborted, a2.signal.aborted, b1.signal.aborted]).toEqual([true, false, false]);
    expect(gate.interrupt({ user: 'a' })).toBe(1);
    expect(b1.signal.aborted).toBe(false);
    const b2 = gate.track('b', 'd2', client.signal);
    client.abort();
    expect(b2.signal.aborted).toBe(true);
    for (const each of [a1, a2, b1, b2]) each.release();
    const fresh = gate.track('c', 'd', undefined);
    fresh.release();
    expect(gate.interrupt()).toBe(0);
    expect(fresh.signal.aborted).toBe(false);
  });
});

describe('hostile policy keys', () => {
  it('any key but the one issued is refused as invalid (144 / 449), never let through and never a 500', async () => {
    const server = await start();
    const modern = server.device('alice', 'fuzz14', '14.1');
    const legacy = server.device('alice', 'fuzz12', '12.1');
    const modernKey = await modern.provision();
    const legacyKey = await legacy.provision();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 0xffff_ffff }), async (key) => {
        fc.pre(key !== modernKey && key !== legacyKey);
        expectRefused(
          await modern.send('FolderSync', undefined, key),
          '14.1',
          'invalid-policy-key',
          'FolderSync',
        );
        expectRefused(await legacy.send('Sync', undefined, key), '12.1', 'invalid-policy-key', 'Sync');
      }),
      { numRuns: 40 },
    );
    await expectFolderSyncWorks(modern);
    await expectFolderSyncWorks(legacy);
  });
});

describe('statistics in batches (activityBatchMs)', () => {
  class CountingStore extends MemoryDeviceStore {
    single = 0;
    batches: number[] = [];
    override recordSync(...args: Parameters<MemoryDeviceStore['recordSync']>) {
      this.single++;
      return super.recordSync(...args);
    }
    async recordSyncs(records: readonly DeviceActivity[]) {
      this.batches.push(records.length);
      let applied = 0;
      for (const record of records) {
        await super.recordSync(record.user, record.deviceId, record.activity).then(
          () => applied++,
          () => {},
        );
      }
      return applied;
    }
  }
  const identity = { userId: ALICE, addresses: [ALICE] };
  const head = (command: EasCommandName, deviceId = 'D1') =>
    ({ command, deviceId, deviceType: 'Phone', protocolVersion: '14.1' }) as never;

  it('records nothing before the batch is due, then every request in one write', async () => {
    const devices = new CountingStore();
    const gate = createPolicyGate({ devices, activityBatchMs: 60_000, withoutPolicy: 'skip' });
    expect((await gate.check(identity, head('Sync'))).pass).toBe(true);
    expect((await gate.check(identity, head('Ping', 'D2'))).pass).toBe(true);
    await gate.record(head('Sync'), identity, { bytesIn: 10, bytesOut: 200, itemsSent: 3 });
    await gate.record(head('Ping'), identity, { bytesIn: 5, bytesOut: 20 });
    await gate.record(head('Ping', 'D2'), identity, { bytesIn: 5, bytesOut: 20 });
    await gate.record(head('Sync', 'gone'), identity, { bytesIn: 5, bytesOut: 20 });
    expect((await devices.getDevice(ALICE, 'D1'))!.stats.syncCount).toBe(0);
    await gate.flush();
    expect(devices.single).toBe(0);
    expect(devices.batches).toEqual([4]);
    const stats = (await devices.getDevice(ALICE, 'D1'))!.stats;
    expect(stats).toMatchObject({
      syncCount: 1,
      pingCount: 1,
      itemsSent: 3,
      bytesIn: 15,
      lastCommand: 'Ping',
    });
    expect((await devices.getDevice(ALICE, 'D2'))!.stats.pingCount).toBe(1);
    await gate.flush();
    expect(devices.batches).toEqual([4]);
  });

  it('writes a full batch at once and a due one by its timer; failures go to onActivityError', async () => {
    const devices = new CountingStore();
    const errors: unknown[] = [];
    const gate = createPolicyGate({
      devices,
      activityBatchMs: 20,
      maxActivityBatch: 3,
      withoutPolicy: 'skip',
      onActivityError: (error) => errors.push(error),
    });
    await gate.check(identity, head('Sync'));
    for (let i = 0; i < 4; i++) await gate.record(head('Sync'), identity, { bytesIn: 1, bytesOut: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(devices.batches).toEqual([3, 1]);
    expect((await devices.getDevice(ALICE, 'D1'))!.stats.syncCount).toBe(4);
    devices.recordSyncs = async () => {
      throw new Error('database down');
    };
    await gate.record(head('Sync'), identity, { bytesIn: 1, bytesOut: 1 });
    await gate.flush();
    expect(errors).toHaveLength(1);
  });

  it('without activityBatchMs records each request before answering, one recordSync each', async () => {
    const devices = new CountingStore();
    const gate = createPolicyGate({ devices, withoutPolicy: 'skip' });
    await gate.check(identity, head('Sync'));
    await gate.record(head('Sync'), identity, { bytesIn: 1, bytesOut: 1 });
    expect(devices.single).toBe(1);
    expect((await devices.getDevice(ALICE, 'D1'))!.stats.syncCount).toBe(1);
  });
});

describe('reused check-ins (checkInReuseMs)', () => {
  class CountingStore extends MemoryDeviceStore {
    checkIns = 0;
    override upsertDevice(...args: Parameters<MemoryDeviceStore['upsertDevice']>) {
      this.checkIns++;
      return super.upsertDevice(...args);
    }
  }
  const identity = { userId: ALICE, addresses: [ALICE] };
  const head = (command: EasCommandName, overrides: Record<string, string> = {}) =>
    ({ command, deviceId: 'D1', deviceType: 'Phone', protocolVersion: '14.1', ...overrides }) as never;

  it('a Ping right after a request of the same device reuses its check-in; other commands always check in', async () => {
    const devices = new CountingStore();
    const gate = createPolicyGate({ devices, withoutPolicy: 'skip', checkInReuseMs: 60_000 });
    expect((await gate.check(identity, head('Sync'))).pass).toBe(true);
    expect((await gate.check(identity, head('Ping'))).pass).toBe(true);
    expect((await gate.check(identity, head('Ping'))).pass).toBe(true);
    expect(devices.checkIns).toBe(1);
    await gate.check(identity, head('Sync'));
    await gate.check(identity, head('FolderSync'));
    expect(devices.checkIns).toBe(3);
    // Another device, another type, version or user agent: a check-in of its own.
    await gate.check(identity, head('Ping', { deviceId: 'D2' }));
    await gate.check(identity, head('Ping', { deviceType: 'Tablet' }));
    await gate.check(identity, head('Ping', { protocolVersion: '16.1' }));
    await gate.check(identity, head('Ping', { userAgent: 'Other/1.0' }));
    expect(devices.checkIns).toBe(7);
  });

  it('an administrator’s block (interrupt) and the device’s own Provision end the reuse at once', async () => {
    const devices = new CountingStore();
    const gate = createPolicyGate({ devices, withoutPolicy: 'skip', checkInReuseMs: 60_000 });
    await gate.check(identity, head('Sync'));
    await devices.updateDevice(ALICE, 'D1', { access: { state: 'blocked', reason: 'individual' } });
    gate.interrupt({ user: ALICE, deviceId: 'D1' });
    expect(await gate.check(identity, head('Ping'))).toMatchObject({ pass: false, refusal: 'blocked' });
    expect(devices.checkIns).toBe(2);

    await devices.updateDevice(ALICE, 'D1', { access: { state: 'allowed', reason: 'individual' } });
    gate.interrupt({});
    await gate.check(identity, head('Sync'));
    await gate.check(identity, head('Provision'));
    await devices.updateDevice(ALICE, 'D1', { wipe: { state: 'pending', kind: 'full' } } as never);
    await gate.record(head('Provision'), identity, { bytesIn: 1, bytesOut: 1 });
    expect(await gate.check(identity, head('Ping'))).toMatchObject({ pass: false, refusal: 'wipe' });
    expect(devices.checkIns).toBe(5);
  });

  it('a check-in read while an interrupt happened is not reused, and none is after reuseMs', async () => {
    const devices = new CountingStore();
    const gate = createPolicyGate({ devices, withoutPolicy: 'skip', checkInReuseMs: 30 });
    const racing = gate.check(identity, head('Sync'));
    gate.interrupt({});
    await racing;
    await gate.check(identity, head('Ping'));
    expect(devices.checkIns).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await gate.check(identity, head('Ping'));
    expect(devices.checkIns).toBe(3);
  });
});
