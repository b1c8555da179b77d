import { IndexedMailboxSearch, UserDirectory, type UserListing } from '@easkit/mailbox';
import type { EasCommandName } from '../http/commands.js';
import type { EasCommandHandler } from '../http/handler.js';
import { getItemEstimateCommand, moveItemsCommand } from './estimate-move.js';
import { type FindCommandOptions, findCommand } from './find.js';
import {
  folderCreateCommand,
  folderDeleteCommand,
  folderSyncCommand,
  folderUpdateCommand,
} from './folders.js';
import { getAttachmentCommand } from './get-attachment.js';
import { type ItemOperationsOptions, itemOperationsCommand } from './item-operations.js';
import { type MeetingResponseOptions, meetingResponseCommand } from './meeting-response.js';
import { type PingCommandOptions, pingCommand } from './ping.js';
import { type ProvisionCommandOptions, provisionCommand } from './provision.js';
import { type ResolveRecipientsOptions, resolveRecipientsCommand } from './resolve-recipients.js';
import { type SearchCommandOptions, searchCommand } from './search.js';
import { composeMailCommands, type SendMailOptions } from './send-mail.js';
import type { EasServices } from './services.js';
import { type SettingsCommandOptions, settingsCommand } from './settings.js';
import { type SyncCommandOptions, syncCommand } from './sync.js';
import { type ValidateCertOptions, validateCertCommand } from './validate-cert.js';

export interface EasCommandsOptions {
  readonly sync?: SyncCommandOptions;
  readonly itemOperations?: ItemOperationsOptions;
  readonly ping?: PingCommandOptions;
  readonly provision?: ProvisionCommandOptions;
  readonly settings?: SettingsCommandOptions;
  readonly sendMail?: SendMailOptions;
  readonly meetingResponse?: MeetingResponseOptions;
  readonly search?: SearchCommandOptions;
  readonly resolveRecipients?: ResolveRecipientsOptions;
  readonly find?: FindCommandOptions;
  readonly validateCert?: ValidateCertOptions;
}

/** The command handlers implemented so far, bound to the given stores; pass them to `createEasHandler`. */
export function createEasCommands(
  services: EasServices,
  options: EasCommandsOptions = {},
): Partial<Record<EasCommandName, EasCommandHandler>> {
  const lookups = {
    mailbox: services.mailbox,
    ...(services.classes ? { classes: services.classes } : {}),
    search: services.search ?? new IndexedMailboxSearch(services.mailbox),
    ...directoryOf(services),
  };
  return {
    Sync: syncCommand(services, options.sync),
    FolderSync: folderSyncCommand(services),
    FolderCreate: folderCreateCommand(services),
    FolderUpdate: folderUpdateCommand(services),
    FolderDelete: folderDeleteCommand(services),
    GetItemEstimate: getItemEstimateCommand(services),
    MoveItems: moveItemsCommand(services),
    ItemOperations: itemOperationsCommand(services, options.itemOperations),
    GetAttachment: getAttachmentCommand(services),
    Settings: settingsCommand(services, options.settings),
    Search: searchCommand(lookups, options.search),
    ResolveRecipients: resolveRecipientsCommand(lookups, options.resolveRecipients),
    Find: findCommand(lookups, options.find),
    ...(services.trustStore
      ? { ValidateCert: validateCertCommand(services.trustStore, options.validateCert) }
      : {}),
    MeetingResponse: meetingResponseCommand(
      { mailbox: services.mailbox, ...(services.submitter ? { submitter: services.submitter } : {}) },
      options.meetingResponse,
    ),
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

/** The given directory, or one of the mailbox's users when the store can list them. */
function directoryOf(services: EasServices): {
  directory?: UserDirectory | NonNullable<EasServices['directory']>;
} {
  if (services.directory) return { directory: services.directory };
  const mailbox = services.mailbox as Partial<UserListing>;
  if (typeof mailbox.listUsers !== 'function') return {};
  return { directory: new UserDirectory({ users: mailbox as UserListing }) };
}
