import type { ProtocolVersion } from '@easkit/wbxml';

/** Every EAS command name a client may send (MS-ASCMD 2.2.1), with its base64-query code (MS-ASHTTP 2.2.1.1.1.1.2). */
export const EAS_COMMANDS = [
  { name: 'Sync', code: 0, since: '2.5' },
  { name: 'SendMail', code: 1, since: '2.5' },
  { name: 'SmartForward', code: 2, since: '2.5' },
  { name: 'SmartReply', code: 3, since: '2.5' },
  { name: 'GetAttachment', code: 4, since: '2.5', until: '12.1' },
  { name: 'FolderSync', code: 9, since: '2.5' },
  { name: 'FolderCreate', code: 10, since: '2.5' },
  { name: 'FolderDelete', code: 11, since: '2.5' },
  { name: 'FolderUpdate', code: 12, since: '2.5' },
  { name: 'MoveItems', code: 13, since: '2.5' },
  { name: 'GetItemEstimate', code: 14, since: '2.5' },
  { name: 'MeetingResponse', code: 15, since: '2.5' },
  { name: 'Search', code: 16, since: '2.5' },
  { name: 'Settings', code: 17, since: '12.0' },
  { name: 'Ping', code: 18, since: '2.5' },
  { name: 'ItemOperations', code: 19, since: '12.0' },
  { name: 'Provision', code: 20, since: '2.5' },
  { name: 'ResolveRecipients', code: 21, since: '2.5' },
  { name: 'ValidateCert', code: 22, since: '2.5' },
  { name: 'Find', code: 23, since: '16.1' },
] as const satisfies readonly {
  name: string;
  code: number;
  since: ProtocolVersion;
  until?: ProtocolVersion;
}[];

export type EasCommandName = (typeof EAS_COMMANDS)[number]['name'];

const byLowerName = new Map<string, EasCommandName>(
  EAS_COMMANDS.map((command) => [command.name.toLowerCase(), command.name]),
);
const byCode = new Map<number, EasCommandName>(EAS_COMMANDS.map((command) => [command.code, command.name]));

/** The canonical command name for a query's `Cmd` value (any letter case), or undefined. */
export function commandByName(name: string): EasCommandName | undefined {
  return byLowerName.get(name.toLowerCase());
}

/** The command for a base64-query command code, or undefined (codes 5-8 were retired 2.x commands). */
export function commandByCode(code: number): EasCommandName | undefined {
  return byCode.get(code);
}
