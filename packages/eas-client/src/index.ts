export {
  type AutodiscoverAttempt,
  AutodiscoverError,
  type AutodiscoverOptions,
  type AutodiscoverResult,
  autodiscover,
  type PoxAnswer,
  parsePoxAnswer,
} from './autodiscover.js';
export {
  type CollectionSyncInput,
  type CollectionSyncOutcome,
  type CommandOptions,
  EasClient,
  type EasClientOptions,
  type ProvisionOutcome,
  type WatchEvent,
  type WatchOptions,
} from './client.js';
export type { EstimateRequest, EstimateResult, MoveRequest, MoveResult } from './commands/estimate-move.js';
export type { FolderSyncResult } from './commands/folder-sync.js';
export type {
  FindRequest,
  FindResult,
  FolderChangeResult,
  ValidateCertRequest,
  ValidateCertResult,
} from './commands/folders.js';
export type {
  FetchOptions,
  FetchResult,
  FetchTarget,
  ItemOperationsResult,
} from './commands/item-operations.js';
export { type ItemAttachment, type ItemBody, type ItemData, readItemData } from './commands/items.js';
export type {
  ResolvedRecipient,
  ResolveRecipientsOptions,
  ResolveRecipientsResult,
  SearchHit,
  SearchRequest,
  SearchResult,
} from './commands/lookups.js';
export type { MeetingResponseRequest, MeetingResponseResult } from './commands/meeting-response.js';
export type { PingFolder, PingResult } from './commands/ping.js';
export type { DeviceInformation, ProvisionResult } from './commands/provision.js';
export type { SendMailRequest, SendMailResult, SmartMailRequest, SmartSource } from './commands/send-mail.js';
export type {
  OofAudience,
  OofMessage,
  OofSettings,
  SettingsRequest,
  SettingsResult,
} from './commands/settings.js';
export type {
  BodyPreference,
  ClientChange,
  SyncCollectionResult,
  SyncItem,
  SyncOptions,
  SyncRequestOptions,
  SyncResult,
} from './commands/sync.js';
export {
  EasAccessDeniedError,
  EasAuthError,
  EasClientError,
  EasHttpError,
  EasNetworkError,
  EasProtocolError,
  EasProvisionError,
  EasRedirectError,
  EasRemoteWipeError,
  EasStatusError,
  EasThrottledError,
} from './errors.js';
export { type AgentFetch, agentFetch } from './loadgen/agent-fetch.js';
export type { LatencySummary, SecondSample } from './loadgen/recorder.js';
export { latencyChartSvg, summaryText, writeReport } from './loadgen/report.js';
export {
  type LoadOptions,
  type LoadProgress,
  type LoadReport,
  type LoadUser,
  runLoad,
} from './loadgen/run.js';
export type { ServerResources, ServerSample } from './loadgen/server-metrics.js';
export {
  type ClassSyncShape,
  type DeviceProfile,
  PROFILES,
  type ProfileFolder,
  type ProfileName,
  parseProfileMix,
  profileClientOptions,
  profileFolders,
  profileVersions,
  syncShape,
  syncsClass,
} from './profiles.js';
export {
  CLIENT_VERSIONS,
  COMMAND_CODES,
  classOfFolderType,
  type EasCommand,
  type EasVersion,
  FolderType,
  type ItemClass,
  negotiateVersion,
} from './protocol.js';
export { base64Query, plainQuery, type QueryParameters } from './query.js';
export {
  deviceLifeScenario,
  runDeviceLife,
  type ScenarioStep,
  type ScenarioTarget,
} from './scenarios/device-life.js';
export {
  type CollectionState,
  type DeviceSnapshot,
  type DeviceState,
  JsonFileDeviceState,
  type KnownFolder,
  MemoryDeviceState,
} from './state.js';
export {
  type EasCredentials,
  type EasRequest,
  type EasResponse,
  EasTransport,
  type ExchangeRecord,
  type FetchFunction,
  type ServerOptions,
  splitMultipart,
  type TransportOptions,
} from './transport.js';
