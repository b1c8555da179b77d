export * from './calendar/delivery.js';
export {
  buildReply,
  globalObjectId,
  INVITATION_LIMITS,
  InvalidInvitationError,
  type Invitation,
  type InvitationAttendee,
  type InvitationEvent,
  parseInvitation,
  type ReplyOptions,
  uidOfGlobalObjectId,
} from './calendar/invitation.js';
export { type CalendarPart, type CalendarPartLimits, findCalendarPart } from './calendar/mime-parts.js';
export * from './commands/attachments.js';
export * from './commands/estimate-move.js';
export * from './commands/find.js';
export * from './commands/folders.js';
export * from './commands/get-attachment.js';
export * from './commands/index.js';
export * from './commands/item-operations.js';
export * from './commands/local-delivery.js';
export * from './commands/mail-submitter.js';
export * from './commands/meeting-response.js';
export * from './commands/ping.js';
export * from './commands/provision.js';
export * from './commands/provision-document.js';
export * from './commands/resolve-recipients.js';
export * from './commands/search.js';
export * from './commands/send-mail.js';
export * from './commands/services.js';
export * from './commands/settings.js';
export * from './commands/sync.js';
export * from './commands/sync-options.js';
export * from './commands/validate-cert.js';
export * from './convert/types.js';
export * from './http/auth.js';
export * from './http/body.js';
export * from './http/commands.js';
export * from './http/errors.js';
export * from './http/handler.js';
export * from './http/identity.js';
export * from './http/node-adapter.js';
export * from './http/policy-gate.js';
export * from './http/protocol-version.js';
export * from './http/query.js';
export * from './http/request.js';
