export {
  createIdempotentWrites,
  type IdempotentCall,
  type IdempotentResult,
  type IdempotentWrites,
  type IdempotentWritesOptions,
  REQUEST_ID_RETENTION_MS,
  requestIdOf,
} from "./idempotent-writes.js";
export { canonicalJson, fingerprintRequest, REQUEST_ID_FIELD } from "./request-fingerprint.js";
export { requestIdsMigration } from "./request-ids-migration.js";
