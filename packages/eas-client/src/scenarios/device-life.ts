import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { eas } from '@easkit/wbxml';
import { EasClient } from '../client.js';
import type { SyncItem } from '../commands/sync.js';
import { EasRemoteWipeError } from '../errors.js';
import {
  type DeviceProfile,
  type ProfileFolder,
  profileClientOptions,
  profileFolders,
  syncShape,
} from '../profiles.js';
import { type EasVersion, FolderType } from '../protocol.js';
import type { FetchFunction } from '../transport.js';

const { Contacts: C } = eas;

/** The server a scenario runs against: any EAS server, with an easkit admin token for the wipe step. */
export interface ScenarioTarget {
  /** Base URL or `…/Microsoft-Server-ActiveSync`. */
  url: string;
  username: string;
  password: string;
  /** Where mail for the account goes; default: the login name. */
  address?: string;
  /**
   * An easkit admin API token (`/admin/v1`): enables the wipe step. Other servers: leave it out, or give
   * `orderWipe` instead.
   */
  adminToken?: string;
  /**
   * The organizer of the invitation of the meeting step; the server sends the acceptance there, so it must be
   * able to deliver to it (a relay, or a local address). Default `organizer@scenario.test`.
   */
  organizer?: string;
  /** Orders a remote wipe of a device by other means than the easkit admin API. */
  orderWipe?: (deviceId: string) => Promise<void>;
  /** Resolves once the server holds the device's Ping (e.g. read from its metrics); default: do not wait. */
  whileWaiting?: () => Promise<void>;
  fetch?: FetchFunction;
}

/** One step of a device's life. `available` is false when the target cannot run it (no way to order a wipe). */
export interface ScenarioStep {
  name: string;
  available: boolean;
  run(): Promise<void>;
}

const EAS_PATH = /\/Microsoft-Server-ActiveSync\/?$/i;

/**
 * The life of one device of `profile` at `version`, as ordered steps that share the device: first contact
 * through provisioning, the first sync of every class the profile syncs, changes both ways with a second
 * device, send and reply, a meeting response, a Ping woken by a new message, and a remote wipe. Each step
 * throws (node:assert) when the server does not behave; run them in order.
 */
export function deviceLifeScenario(
  target: ScenarioTarget,
  profile: DeviceProfile,
  version: EasVersion,
): ScenarioStep[] {
  const endpoint = EAS_PATH.test(target.url)
    ? target.url.replace(/\/+$/, '')
    : `${target.url.replace(/\/+$/, '')}/Microsoft-Server-ActiveSync`;
  const base = endpoint.replace(EAS_PATH, '');
  const address = target.address ?? target.username;
  const tag = `${profile.name}${version.replace('.', '')}${randomBytes(3).toString('hex')}`;
  const wipes: string[] = [];
  const open = (role: string) =>
    EasClient.open({
      url: endpoint,
      credentials: { username: target.username, password: target.password },
      ...profileClientOptions(profile, version),
      deviceId: `SC${tag}${role}`.toUpperCase().slice(0, 32),
      ...(target.fetch ? { fetch: target.fetch } : {}),
      onWipe: (kind) => {
        wipes.push(kind);
        return true;
      },
    });
  let device: EasClient;
  let peer: EasClient;
  let folders: ProfileFolder[] = [];
  const folder = (itemClass: ProfileFolder['itemClass']) => {
    const found = folders.find((entry) => entry.itemClass === itemClass && entry.serverId !== undefined);
    assert.ok(found, `the profile syncs ${itemClass}, but the hierarchy has no such folder`);
    return found;
  };
  const inbox = () => folders.find((entry) => entry.itemClass === 'Email') as ProfileFolder;
  const sync = (
    client: EasClient,
    entry: ProfileFolder,
    extra?: Parameters<EasClient['syncCollection']>[1],
  ) =>
    client.syncCollection(entry.serverId, {
      ...syncShape(profile, entry.itemClass, client.protocolVersion ?? version),
      ...extra,
    });

  /** Syncs the Inbox until a message with this subject is there, Pinging between rounds (no fixed sleep). */
  const awaitMessage = async (client: EasClient, subject: string): Promise<SyncItem> => {
    for (let round = 0; round < 10; round++) {
      const outcome = await sync(client, inbox());
      assert.equal(outcome.status, 1, 'Inbox Sync status');
      const found = outcome.added.find((item) => item.data.fields.Subject === subject);
      if (found) return found;
      await client.ping([{ id: inbox().serverId, class: 'Email' }], 60);
    }
    assert.fail(`no message "${subject}" arrived in the Inbox`);
  };

  const message = (subject: string, body: string, extra: string[] = []) =>
    [
      `From: ${address}`,
      `To: ${address}`,
      `Subject: ${subject}`,
      `Message-ID: <${randomBytes(8).toString('hex')}@${tag}.scenario>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      ...extra,
      ...(extra.length ? [] : ['Content-Type: text/plain; charset=utf-8']),
      '',
      body,
      '',
    ].join('\r\n');

  const orderWipe = async (deviceId: string) => {
    if (target.orderWipe) return target.orderWipe(deviceId);
    const response = await (target.fetch ?? fetch)(
      `${base}/admin/v1/devices/${encodeURIComponent(target.username.toLowerCase())}/${encodeURIComponent(deviceId)}/wipe`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${target.adminToken}`,
          'content-type': 'application/json',
          'x-easkit-actor': 'device-scenarios',
        },
        body: JSON.stringify({ note: `scenario ${tag}` }),
      },
    );
    assert.ok(response.ok, `the admin API refused the wipe: HTTP ${response.status}`);
  };

  return [
    {
      name: 'first contact: OPTIONS, Provision when asked, FolderSync',
      available: true,
      async run() {
        device = await open('a');
        const offered = await device.connect();
        assert.ok(
          offered.versions.includes(version),
          `the server offers ${offered.versions.join(', ')}, not ${version}`,
        );
        assert.equal(device.protocolVersion, version);
        // The first FolderSync meets 449 / Status 142 on a server that enforces a policy: the client provisions.
        const hierarchy = await device.folderSync();
        assert.equal(hierarchy.status, 1, 'FolderSync status');
        for (const type of [FolderType.Inbox, FolderType.Calendar, FolderType.Contacts, FolderType.Tasks]) {
          assert.ok(device.folder(type), `no folder of type ${type}`);
        }
        folders = profileFolders(profile, version, device.folders);
        assert.ok(folders.length >= 3, 'the profile found its folders');
      },
    },
    {
      name: 'initial sync of every class the profile syncs',
      available: true,
      async run() {
        for (const entry of folders) {
          const outcome = await sync(device, entry);
          assert.equal(outcome.status, 1, `${entry.displayName} Sync status`);
          assert.notEqual(outcome.syncKey, '0', `${entry.displayName} has a key`);
          for (const item of outcome.added) assert.ok(item.serverId, 'every item has a ServerId');
        }
      },
    },
    {
      name: 'changes both ways: a contact added, changed and deleted, seen by a second device',
      available: true,
      async run() {
        const contacts = folder('Contacts');
        peer = await open('b');
        await peer.folderSync();
        await sync(peer, contacts);
        const clientId = `c${tag}`;
        const added = await sync(device, contacts, {
          commands: [
            {
              kind: 'add',
              clientId,
              data: [C.FileAs(`Scenario ${tag}`), C.FirstName('Scenario'), C.LastName(tag)],
            },
          ],
        });
        const serverId = added.idMap[clientId];
        assert.ok(serverId, 'the Add got a server id');
        let seen = await sync(peer, contacts);
        assert.ok(
          seen.added.some((item) => item.serverId === serverId),
          'the second device sees the Add',
        );
        // The other way: the second device changes it, the first sees the change.
        await sync(peer, contacts, {
          commands: [
            {
              kind: 'change',
              serverId,
              data: [C.FileAs(`Changed ${tag}`), C.FirstName('Changed'), C.LastName(tag)],
            },
          ],
        });
        seen = await sync(device, contacts);
        const changed = seen.changed.find((item) => item.serverId === serverId);
        assert.equal(changed?.data.fields.FileAs, `Changed ${tag}`, 'the first device sees the Change');
        await sync(device, contacts, { commands: [{ kind: 'delete', serverId }] });
        seen = await sync(peer, contacts);
        assert.ok(seen.deleted.includes(serverId), 'the second device sees the Delete');
      },
    },
    {
      name: 'send and reply: SendMail to the account, then SmartReply to what arrived',
      available: true,
      async run() {
        const subject = `Scenario ${tag}`;
        const sent = await device.sendMail({
          mime: message(subject, `Sent by a ${profile.name}-like device at ${version}.`),
          saveInSentItems: true,
        });
        assert.equal(sent.status, 1, 'SendMail status');
        const original = await awaitMessage(device, subject);
        const reply = await device.smartReply({
          mime: message(`Re: ${subject}`, 'A reply; the server quotes the original.'),
          source: { collectionId: inbox().serverId, serverId: original.serverId },
          saveInSentItems: true,
        });
        assert.equal(reply.status, 1, 'SmartReply status');
        const answer = await awaitMessage(device, `Re: ${subject}`);
        assert.ok(answer.serverId);
      },
    },
    {
      name: 'meeting response: an invitation arrives and is accepted',
      available: true,
      async run() {
        const subject = `Meeting ${tag}`;
        const start = new Date(Date.now() + 2 * 24 * 3600 * 1000);
        const stamp = (date: Date) => `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
        const calendar = [
          'BEGIN:VCALENDAR',
          'VERSION:2.0',
          'PRODID:-//easkit device scenarios//EN',
          'METHOD:REQUEST',
          'BEGIN:VEVENT',
          `UID:${tag}-meeting`,
          'SEQUENCE:0',
          `DTSTAMP:${stamp(new Date())}`,
          `DTSTART:${stamp(start)}`,
          `DTEND:${stamp(new Date(start.getTime() + 3600 * 1000))}`,
          `SUMMARY:${subject}`,
          `ORGANIZER;CN=Organizer:mailto:${target.organizer ?? 'organizer@scenario.test'}`,
          `ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:${address}`,
          'END:VEVENT',
          'END:VCALENDAR',
        ].join('\r\n');
        const sent = await device.sendMail({
          mime: message(subject, calendar, ['Content-Type: text/calendar; method=REQUEST; charset=utf-8']),
        });
        assert.equal(sent.status, 1, 'SendMail of the invitation');
        const request = await awaitMessage(device, subject);
        assert.equal(request.data.fields.MessageClass, 'IPM.Schedule.Meeting.Request');
        const [result] = await device.meetingResponse([
          { userResponse: 1, source: { collectionId: inbox().serverId, requestId: request.serverId } },
        ]);
        assert.equal(result?.status, 1, 'MeetingResponse status');
        assert.ok(result?.calendarId, 'the accepted meeting is in the calendar');
      },
    },
    {
      name: 'Ping: a message sent by another device wakes the Ping, the Inbox brings it',
      available: true,
      async run() {
        const pushed = folders.filter((entry) => entry.pushed);
        // Everything pushed is synced first, so the Ping waits instead of answering at once.
        for (const entry of pushed) await sync(device, entry);
        const subject = `Wake ${tag}`;
        const ping = device.ping(
          pushed.map((entry) => ({ id: entry.serverId, class: entry.itemClass })),
          profile.heartbeatSec,
        );
        await target.whileWaiting?.();
        const sent = await peer.sendMail({ mime: message(subject, 'Wake up.') });
        assert.equal(sent.status, 1, 'SendMail by the second device');
        const result = await ping;
        assert.equal(result.status, 2, 'the Ping reports changes');
        assert.ok(result.folders.includes(inbox().serverId), 'the Inbox changed');
        const outcome = await sync(device, inbox());
        assert.ok(
          outcome.added.some((item) => item.data.fields.Subject === subject),
          'the new message arrived',
        );
      },
    },
    {
      name: 'remote wipe: ordered by the administrator, acknowledged, state forgotten',
      available: target.adminToken !== undefined || target.orderWipe !== undefined,
      async run() {
        await orderWipe(device.deviceId);
        await assert.rejects(sync(device, inbox()), EasRemoteWipeError);
        assert.deepEqual(wipes, ['device']);
        assert.equal(device.policyKey, undefined);
        assert.deepEqual(device.snapshot.collections, {});
      },
    },
  ];
}

/** Runs every available step in order and reports each; stops at the first failure. */
export async function runDeviceLife(
  target: ScenarioTarget,
  profile: DeviceProfile,
  version: EasVersion,
): Promise<{ step: string; outcome: 'passed' | 'failed' | 'skipped'; ms: number; error?: string }[]> {
  const results: { step: string; outcome: 'passed' | 'failed' | 'skipped'; ms: number; error?: string }[] =
    [];
  let failed = false;
  for (const step of deviceLifeScenario(target, profile, version)) {
    if (!step.available || failed) {
      results.push({ step: step.name, outcome: 'skipped', ms: 0 });
      continue;
    }
    const started = performance.now();
    try {
      await step.run();
      results.push({ step: step.name, outcome: 'passed', ms: Math.round(performance.now() - started) });
    } catch (error) {
      failed = true;
      results.push({
        step: step.name,
        outcome: 'failed',
        ms: Math.round(performance.now() - started),
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return results;
}
