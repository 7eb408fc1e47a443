import { currentActor, currentCorrelationId } from "@berth/platform";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { type ChangeFacts, changeRow } from "./audit-record.js";
import { createAuditStore } from "./audit-store.js";

/** What a handler knows of a change it made; who made it is read from the request's context. */
export type GatewayChange = Pick<
  ChangeFacts,
  | "resourceType"
  | "resourceId"
  | "resourceName"
  | "action"
  | "revisionBefore"
  | "revisionAfter"
  | "changedFields"
>;

/**
 * Records a change to a resource the gateway owns itself (API keys, virtual servers): no other
 * service announces these by event, so their handlers record them, with the calling key and the
 * request's correlation id. On `em` (the write's transaction) when given, so that a write and its
 * record commit or roll back together; otherwise on `orm` (with a request id, the idempotent
 * write's transaction).
 */
export function recordGatewayChange(
  orm: MikroORM,
  change: GatewayChange,
  em?: EntityManager,
): Promise<void> {
  const facts: ChangeFacts = {
    ...change,
    time: new Date(),
    actorKeyId: currentActor() ?? "",
    correlationId: currentCorrelationId() ?? "",
    source: "gateway",
  };
  return createAuditStore(orm).insert([changeRow(facts)], em);
}
