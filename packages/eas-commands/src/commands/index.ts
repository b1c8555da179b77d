import type { EasCommandName } from '../http/commands.js';
import type { EasCommandHandler } from '../http/handler.js';
import {
  folderCreateCommand,
  folderDeleteCommand,
  folderSyncCommand,
  folderUpdateCommand,
} from './folders.js';
import type { EasServices } from './services.js';

/** The command handlers implemented so far, bound to the given stores; pass them to `createEasHandler`. */
export function createEasCommands(services: EasServices): Partial<Record<EasCommandName, EasCommandHandler>> {
  return {
    FolderSync: folderSyncCommand(services),
    FolderCreate: folderCreateCommand(services),
    FolderUpdate: folderUpdateCommand(services),
    FolderDelete: folderDeleteCommand(services),
  };
}
