import { decode, eas, encode, type WbxmlElement } from '@easkit/wbxml';

const { Provision: PR } = eas;

export interface DeviceReply {
  status: number;
  body: WbxmlElement | undefined;
}

/** A minimal EAS device for the server's end-to-end tests: Basic auth, one protocol version, a policy key. */
export class TestDevice {
  policyKey = '0';

  constructor(
    readonly url: string,
    readonly login: string,
    readonly password: string,
    readonly deviceId: string,
    readonly version = '14.1',
    readonly deviceType = 'iPhone',
  ) {}

  async send(command: string, body?: WbxmlElement): Promise<DeviceReply> {
    const response = await fetch(
      `${this.url}/Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(this.login)}&DeviceId=${this.deviceId}&DeviceType=${this.deviceType}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${this.login}:${this.password}`).toString('base64')}`,
          'MS-ASProtocolVersion': this.version,
          'Content-Type': 'application/vnd.ms-sync.wbxml',
          'X-MS-PolicyKey': this.policyKey,
        },
        ...(body ? { body: encode(body) } : {}),
      },
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { status: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
  }

  /**
   * The same request as `send`, but the response is handed back unread, so a test can act while it is still
   * arriving (kill the server mid-response) or give up after a deadline (`signal`).
   */
  open(command: string, body?: WbxmlElement, signal?: AbortSignal): Promise<Response> {
    return fetch(
      `${this.url}/Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(this.login)}&DeviceId=${this.deviceId}&DeviceType=${this.deviceType}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${this.login}:${this.password}`).toString('base64')}`,
          'MS-ASProtocolVersion': this.version,
          'Content-Type': 'application/vnd.ms-sync.wbxml',
          'X-MS-PolicyKey': this.policyKey,
        },
        ...(body ? { body: encode(body) } : {}),
        ...(signal ? { signal } : {}),
      },
    );
  }

  /** The two-phase Provision of MS-ASPROV: download the policy, acknowledge it, keep the final key. */
  async provision(): Promise<void> {
    const type = this.version === '2.5' ? 'MS-WAP-Provisioning-XML' : 'MS-EAS-Provisioning-WBXML';
    const first = await this.send('Provision', PR.Provision(PR.Policies(PR.Policy(PR.PolicyType(type)))));
    const temporary = first.body?.require('Policies').require('Policy').textOf('PolicyKey');
    if (!temporary) throw new Error(`no temporary policy key: ${first.status}`);
    this.policyKey = temporary;
    const second = await this.send(
      'Provision',
      PR.Provision(PR.Policies(PR.Policy(PR.PolicyType(type), PR.PolicyKey(temporary), PR.Status(1)))),
    );
    const final = second.body?.require('Policies').require('Policy').textOf('PolicyKey');
    if (!final) throw new Error(`no final policy key: ${second.status}`);
    this.policyKey = final;
  }

  /** Answers a remote wipe directive: fetch it, acknowledge it. Returns whether one was there. */
  async acknowledgeWipe(): Promise<boolean> {
    const type = 'MS-EAS-Provisioning-WBXML';
    const reply = await this.send('Provision', PR.Provision(PR.Policies(PR.Policy(PR.PolicyType(type)))));
    const wipe = reply.body?.has('RemoteWipe') || reply.body?.has('AccountOnlyRemoteWipe');
    if (!wipe) return false;
    const ack = reply.body?.has('AccountOnlyRemoteWipe')
      ? PR.Provision(PR.AccountOnlyRemoteWipe(PR.Status(1)))
      : PR.Provision(PR.RemoteWipe(PR.Status(1)));
    await this.send('Provision', ack);
    return true;
  }
}
