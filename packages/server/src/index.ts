export { OperatorRegistry } from './admin/auth.ts';
export { type AkamuServer, createServer, type ServerDeps } from './app.ts';
export {
  COMPOSITE_KEY_TYPES,
  type CompositeKeyType,
  certificateSpki,
  compositeKeyTypeOf,
  verifyCompositeSigned,
} from './ca/composite.ts';
export type { CaKeyType, KeyType } from './ca/key-type.ts';
export { type Clock, FakeClock, systemClock } from './clock.ts';
export {
  applyEnvOverrides,
  type Config,
  ConfigError,
  type ConfigInput,
  configSchema,
  loadConfig,
  parseConfig,
} from './config.ts';
export {
  AUDIT_EVENT_TYPES,
  type AuditContext,
  type AuditEvent,
  type AuditEventType,
  type AuditRecord,
  auditEvent,
} from './core/audit.ts';
export { AcmeError } from './errors.ts';
export type { EabAuthority, NewEabKey } from './ra/eab-authority.ts';
export type { RenewalAuthority } from './ra/renewal-authority.ts';
export { type Operator, type OperatorRole, SqlAdminStorage } from './sa/admin-storage.ts';
export {
  type AuditPage,
  type AuditPublisher,
  type AuditQuery,
  auditedTransaction,
  insertAuditEvent,
  queryAuditEvents,
  SqlAuditLog,
} from './sa/audit-storage.ts';
export { migrateToLatest, openDatabase } from './sa/database.ts';
export { type EabKey, type EabStorage, SqlEabStorage } from './sa/eab-storage.ts';
export { type RenewalStorage, SqlRenewalStorage } from './sa/renewal-storage.ts';
export { SqlStorageAuthority } from './sa/sql-storage-authority.ts';
export type { StorageAuthority } from './sa/storage-authority.ts';
export type { HostResolver } from './va/resolver.ts';
export type {
  ChallengeValidator,
  ValidationOutcome,
  ValidationRequest,
  ValidationSuccess,
} from './va/validator.ts';
