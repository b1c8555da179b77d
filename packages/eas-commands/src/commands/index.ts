import type { EasCommandName } from '../http/commands.js';
import type { EasCommandHandler } from '../http/handler.js';
import { getItemEstimateCommand, moveItemsCommand } from './estimate-move.js';
import {
  folderCreateCommand,
  folderDeleteCommand,
  folderSyncCommand,
  folderUpdateCommand,
} from './folders.js';
import { type ItemOperationsOptions, itemOperationsCommand } from './item-operations.js';
import { type PingCommandOptions, pingCommand } from './ping.js';
import { type ProvisionCommandOptions, provisionCommand } from './provision.js';
import { composeMailCommands, type SendMailOptions } from './send-mail.js';
import type { EasServices } from './services.js';
import { type SettingsCommandOptions, settingsCommand } from './settings.js';
import { type SyncCommandOptions, syncCommand } from './sync.js';

export interface EasCommandsOptions {
  readonly sync?: SyncCommandOptions;
  readonly itemOperations?: ItemOperationsOptions;
  readonly ping?: PingCommandOptions;
  readonly provision?: ProvisionCommandOptions;
  readonly settings?: SettingsCommandOptions;
  readonly sendMail?: SendMailOptions;
}

/** The command handlers implemented so far, bound to the given stores; pass them to `createEasHandler`. */
export function createEasCommands(
  services: EasServices,
  options: EasCommandsOptions = {},
): Partial<Record<EasCommandName, EasCommandHandler>> {
  return {
    Sync: syncCommand(services, options.sync),
    FolderSync: folderSyncCommand(services),
    FolderCreate: folderCreateCommand(services),
    FolderUpdate: folderUpdateCommand(services),
    FolderDelete: folderDeleteCommand(services),
    GetItemEstimate: getItemEstimateCommand(services),
    MoveItems: moveItemsCommand(services),
    ItemOperations: itemOperationsCommand(services, options.itemOperations),
    Settings: settingsCommand(services, options.settings),
    ...(services.submitter
      ? composeMailCommands({ mailbox: services.mailbox, submitter: services.submitter }, options.sendMail)
      : {}),
    ...(services.devices
      ? { Provision: provisionCommand({ devices: services.devices }, options.provision) }
      : {}),
    ...(services.waiters
      ? { Ping: pingCommand({ ...services, waiters: services.waiters }, options.ping) }
      : {}),
  };
}
