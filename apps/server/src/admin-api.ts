import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MailboxStore, User } from '@easkit/mailbox';
import {
  type AccessRule,
  type AccessState,
  type DeviceAdministration,
  type DeviceStore,
  type PolicySettings,
  policySettings,
  validatePolicy,
} from '@easkit/policy';
import type { SyncStateStore } from '@easkit/sync-state';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { DeviceRequestLog } from './device-log.js';
import type { PasswordDirectory } from './passwords.js';
import { createMailbox } from './seed.js';
import type { ExtraRoute } from './server.js';

export const ADMIN_PREFIX = '/admin/v1';
const MAX_ADMIN_BODY_BYTES = 1024 * 1024;

export interface AdminApiOptions {
  token: string;
  mailbox: MailboxStore;
  passwords: PasswordDirectory;
  devices: DeviceStore;
  administration: DeviceAdministration;
  syncState: SyncStateStore;
  deviceLog: DeviceRequestLog;
  /** Users whose traffic is logged in full on this instance. */
  debugUsers: Set<string>;
  logger: Logger;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const deviceActions = [
  'wipe',
  'account-only-wipe',
  'clear-wipe',
  'approve',
  'allow',
  'block',
  'quarantine',
  'reset-access',
] as const;

const newUser = z.object({
  address: z.email(),
  displayName: z.string().min(1).max(256).optional(),
  aliases: z.array(z.email()).max(100).default([]),
  password: z.string().min(8).max(1024).optional(),
});
const userUpdateBody = z.object({
  displayName: z.string().min(1).max(256).nullable().optional(),
  aliases: z.array(z.email()).max(100).optional(),
});
const passwordBody = z.object({ password: z.string().min(8).max(1024) });
const enabledBody = z.object({ enabled: z.boolean().nullable() });
const globalEnabledBody = z.object({ enabled: z.boolean() });
const policyIdBody = z.object({ policyId: z.string().min(1).nullable() });
const noteBody = z.object({ note: z.string().max(1000).optional() }).default({});
const accessBody = z.object({ state: z.enum(['allowed', 'blocked', 'quarantined']) });
const resyncBody = z.object({ collectionId: z.string().min(1).optional() }).default({});
const policyBody = z.object({
  name: z.string().min(1).max(256),
  settings: z.record(z.string(), z.unknown()),
  allowNonProvisionableDevices: z.boolean().optional(),
  expectedVersion: z.number().int().min(0).optional(),
});
const ruleBody = z.object({
  match: z.object({
    deviceType: z.string().optional(),
    model: z.string().optional(),
    userAgent: z.string().optional(),
    user: z.string().optional(),
    os: z.string().optional(),
  }),
  action: z.enum(['allow', 'block', 'quarantine']),
  priority: z.number().int(),
  description: z.string().max(1000).optional(),
});

/**
 * The administration API (JSON over HTTP, bearer token): users and passwords, EAS switches, policies, devices
 * (wipe, account-only wipe, approve, block, remove, resync, request log), access rules and the audit log. Every
 * device and policy action goes through `DeviceAdministration`, which records it with the actor: the
 * `X-Easkit-Actor` header when given (the CLI sends the operator's name), else `admin-api`.
 */
export function adminApi(options: AdminApiOptions): ExtraRoute {
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorized = (request: IncomingMessage) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  return async (request, response, url) => {
    if (url.pathname !== ADMIN_PREFIX && !url.pathname.startsWith(`${ADMIN_PREFIX}/`)) return false;
    try {
      if (!authorized(request)) throw new HttpProblem(401, 'a valid admin bearer token is required');
      const actorHeader = request.headers['x-easkit-actor'];
      const actor =
        typeof actorHeader === 'string' && actorHeader.trim() !== ''
          ? actorHeader.trim().slice(0, 200)
          : 'admin-api';
      const segments = url.pathname
        .slice(ADMIN_PREFIX.length)
        .split('/')
        .filter((part) => part !== '')
        .map((part) => {
          try {
            return decodeURIComponent(part);
          } catch {
            throw new HttpProblem(400, 'bad path encoding');
          }
        });
      const body =
        request.method === 'GET' || request.method === 'DELETE' ? undefined : await readJson(request);
      const result = await dispatch(request.method ?? 'GET', segments, url.searchParams, body, actor);
      sendJson(response, result === undefined ? 204 : 200, result);
      options.logger.info({ method: request.method, path: url.pathname, actor }, 'admin action');
    } catch (error) {
      if (error instanceof HttpProblem) sendJson(response, error.status, { error: error.message });
      else if (error instanceof z.ZodError) {
        sendJson(response, 400, {
          error: error.issues
            .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
            .join('; '),
        });
      } else if (error instanceof Error && error.name === 'NotFoundError')
        sendJson(response, 404, { error: error.message });
      else if (
        error instanceof Error &&
        (error.name === 'ConflictError' || error.name === 'InvalidArgumentError')
      ) {
        sendJson(response, 409, { error: error.message });
      } else {
        options.logger.error({ err: error, path: url.pathname }, 'admin request failed');
        sendJson(response, 500, { error: 'internal error' });
      }
    }
    return true;
  };

  async function dispatch(
    method: string,
    path: string[],
    query: URLSearchParams,
    body: unknown,
    actor: string,
  ): Promise<unknown> {
    const admin = options.administration;
    const act = admin.as(actor);
    const [resource, a, b, c] = path;
    // `devices/<user>/<device>/<action>` has two ids; elsewhere the segment after the id is a literal.
    const second = b === undefined ? '' : resource === 'devices' ? '/:b' : `/${b}`;
    const route = `${method} ${resource ?? ''}${a === undefined ? '' : '/:a'}${second}${c === undefined ? '' : `/${c}`}`;
    switch (route) {
      case 'GET users': {
        const lister = options.mailbox as MailboxStore & { listUsers?: () => Promise<User[]> };
        if (!lister.listUsers) throw new HttpProblem(501, 'this mailbox store cannot list users');
        return { users: await lister.listUsers() };
      }
      case 'POST users': {
        const input = newUser.parse(body);
        const { user } = await createMailbox(options.mailbox, {
          id: input.address.toLowerCase(),
          primarySmtpAddress: input.address,
          aliases: input.aliases,
          ...(input.displayName ? { displayName: input.displayName } : {}),
        });
        if (input.password) await options.passwords.setPassword(user.id, input.password);
        return { user };
      }
      case 'GET users/:a':
        return { user: await options.mailbox.getUser(a as string) };
      case 'PUT users/:a': {
        const update = userUpdateBody.parse(body);
        return { user: await options.mailbox.updateUser(a as string, update) };
      }
      case 'PUT users/:a/password': {
        await options.mailbox.getUser(a as string);
        await options.passwords.setPassword(a as string, passwordBody.parse(body).password);
        return undefined;
      }
      case 'PUT users/:a/eas':
        await act.setUserEasEnabled(a as string, enabledBody.parse(body).enabled);
        return undefined;
      case 'PUT users/:a/debug': {
        const { enabled } = globalEnabledBody.parse(body);
        await options.mailbox.getUser(a as string);
        if (enabled) options.debugUsers.add(a as string);
        else options.debugUsers.delete(a as string);
        return { debug: [...options.debugUsers] };
      }
      case 'PUT users/:a/policy':
        await act.setUserPolicy(a as string, policyIdBody.parse(body).policyId);
        return undefined;
      case 'GET devices': {
        const user = query.get('user');
        const limit = query.get('limit');
        return admin.listDevices({
          ...(user ? { user } : {}),
          ...(limit ? { limit: Number(limit) } : {}),
          cursor: query.get('cursor'),
        });
      }
      case 'GET devices/:a/:b': {
        const device = await admin.getDevice(a as string, b as string);
        if (!device) throw new HttpProblem(404, 'no such device');
        return { device };
      }
      case 'DELETE devices/:a/:b': {
        const removed = await act.remove(a as string, b as string);
        if (!removed) throw new HttpProblem(404, 'no such device');
        await options.syncState.deleteDevice(a as string, b as string);
        return undefined;
      }
      case 'GET devices/:a/:b/log':
        return { requests: options.deviceLog.entries(a as string, b as string) };
      case 'POST devices/:a/:b/resync': {
        const { collectionId } = resyncBody.parse(body ?? {});
        const dropped = collectionId
          ? Number(await options.syncState.delete({ user: a as string, deviceId: b as string, collectionId }))
          : await options.syncState.deleteDevice(a as string, b as string);
        return { dropped };
      }
      case 'POST devices/:a/:b/clear-broken': {
        // Items Sync gave up on for this device (it kept failing on them) are offered to it again.
        let cleared = 0;
        for (const collectionId of await options.syncState.listCollections(a as string, b as string)) {
          const key = { user: a as string, deviceId: b as string, collectionId };
          for (let attempt = 0; attempt < 5; attempt++) {
            const state = await options.syncState.get(key);
            const broken = state?.options?.quarantined;
            if (!state || !Array.isArray(broken) || broken.length === 0) break;
            const { quarantined: _dropped, ...rest } = state.options ?? {};
            const newest = state.pending?.syncKey ?? state.confirmed.syncKey;
            if (await options.syncState.compareAndSet(key, newest, { ...state, options: rest })) {
              cleared += broken.length;
              break;
            }
          }
        }
        return { cleared };
      }
      case 'GET policies':
        return { policies: await options.devices.listPolicies() };
      case 'PUT policies/:a': {
        // Settings not given take their defaults; the result must be a valid policy.
        const input = policyBody.parse(body);
        const settings = policySettings(input.settings as Partial<PolicySettings>);
        const issues = validatePolicy(settings);
        if (issues.length > 0) throw new HttpProblem(400, `invalid policy: ${JSON.stringify(issues)}`);
        return { policy: await act.putPolicy({ ...input, id: a as string, settings }) };
      }
      case 'DELETE policies/:a':
        await act.deletePolicy(a as string);
        return undefined;
      case 'PUT default-policy':
        await act.setDefaultPolicy(policyIdBody.parse(body).policyId);
        return undefined;
      case 'PUT eas':
        return { settings: await act.setEasEnabled(globalEnabledBody.parse(body).enabled) };
      case 'PUT default-access':
        return { settings: await act.setDefaultAccess(accessBody.parse(body).state as AccessState) };
      case 'GET rules':
        return { rules: await options.devices.listRules() };
      case 'PUT rules/:a':
        return { rule: await act.putRule({ id: a as string, ...ruleBody.parse(body) } as AccessRule) };
      case 'DELETE rules/:a':
        if (!(await act.deleteRule(a as string))) throw new HttpProblem(404, 'no such rule');
        return undefined;
      case 'GET audit': {
        const user = query.get('user');
        const limit = query.get('limit');
        return admin.auditLog({
          ...(user ? { user } : {}),
          ...(limit ? { limit: Number(limit) } : {}),
          cursor: query.get('cursor'),
        });
      }
    }
    if (
      method === 'POST' &&
      resource === 'devices' &&
      a &&
      b &&
      c &&
      (deviceActions as readonly string[]).includes(c)
    ) {
      const user = a;
      const deviceId = b;
      const { note } = noteBody.parse(body ?? {});
      const device = await (async () => {
        switch (c as (typeof deviceActions)[number]) {
          case 'wipe':
            return act.wipe(user, deviceId);
          case 'account-only-wipe':
            return act.accountOnlyWipe(user, deviceId);
          case 'clear-wipe':
            return act.clearWipe(user, deviceId);
          case 'approve':
            return act.approve(user, deviceId, note);
          case 'allow':
            return act.allow(user, deviceId, note);
          case 'block':
            return act.block(user, deviceId, note);
          case 'quarantine':
            return act.quarantine(user, deviceId, note);
          case 'reset-access':
            return act.resetAccess(user, deviceId);
        }
      })();
      return { device };
    }
    throw new HttpProblem(404, `no admin route ${method} ${path.join('/')}`);
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_ADMIN_BODY_BYTES) throw new HttpProblem(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpProblem(400, 'the body is not JSON');
  }
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  if (status === 204) {
    response.writeHead(204);
    response.end();
    return;
  }
  const text = `${JSON.stringify(value, null, 2)}\n`;
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}
