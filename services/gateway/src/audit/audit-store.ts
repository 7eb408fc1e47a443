import { decodePageToken, encodePageToken, filterDigest } from "@berth/platform";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { AuditRow } from "./audit-record.js";

const TABLE = `"gateway"."audit_records"`;
const COLUMNS = [
  "id",
  "kind",
  "time",
  "actor_key_id",
  "correlation_id",
  "instance_id",
  "instance_name",
  "virtual_server",
  "method",
  "tool",
  "arguments_digest",
  "duration_ms",
  "outcome",
  "error_code",
  "session_id",
  "resource_type",
  "resource_id",
  "resource_name",
  "action",
  "revision_before",
  "revision_after",
  "changed_fields",
  "source",
] as const;
const PLACEHOLDERS = `(${COLUMNS.map(() => "?").join(", ")})`;

/** Filters of a listing; every one optional, combined with AND. */
export interface AuditFilters {
  startTime?: Date | undefined;
  endTime?: Date | undefined;
  kind?: AuditRow["kind"] | undefined;
  actorKeyId?: string | undefined;
  /** An instance id or name. */
  instance?: string | undefined;
  /** A virtual server's name or id: calls are recorded by its name, changes by its id too. */
  virtualServer?: string | undefined;
  /** The name virtualServer names now, when it is an id (resolved by the caller). */
  virtualServerName?: string | undefined;
  tool?: string | undefined;
  outcome?: string | undefined;
  resourceType?: string | undefined;
}

/** A record as listed: with the display name of its key, when the key is known. */
export type ListedAuditRow = AuditRow & {
  actorKeyName: string;
  /** The user behind an OAuth token's actor id (empty for API keys). */
  actorUser: string;
  actorSubject: string;
  actorIssuer: string;
};

/** A page of records, newest first. */
export interface AuditPage {
  rows: ListedAuditRow[];
  nextPageToken: string;
}

/** The audit trail in the gateway's schema. */
export interface AuditStore {
  /** Inserts rows (a row whose id is already stored is skipped), on em when given (its transaction). */
  insert(rows: readonly AuditRow[], em?: EntityManager): Promise<void>;
  list(filters: AuditFilters, pageSize: number, pageToken: string): Promise<AuditPage>;
  /** Deletes records older than `before`, in batches; returns how many went. */
  deleteBefore(before: Date): Promise<number>;
}

const DELETE_BATCH = 5_000;

/** An AuditStore over the gateway's database. */
export function createAuditStore(orm: MikroORM): AuditStore {
  return {
    async insert(rows, em) {
      if (rows.length === 0) return;
      const values = rows.flatMap((row) => [
        row.id,
        row.kind,
        row.time,
        row.actorKeyId,
        row.correlationId,
        row.instanceId,
        row.instanceName,
        row.virtualServer,
        row.method,
        row.tool,
        row.argumentsDigest,
        row.durationMs,
        row.outcome,
        row.errorCode,
        row.sessionId,
        row.resourceType,
        row.resourceId,
        row.resourceName,
        row.action,
        String(row.revisionBefore),
        String(row.revisionAfter),
        JSON.stringify(row.changedFields),
        row.source,
      ]);
      await (em ?? orm.em.fork()).execute(
        `insert into ${TABLE} (${COLUMNS.map((c) => `"${c}"`).join(", ")}) values ${rows
          .map(() => PLACEHOLDERS)
          .join(", ")} on conflict ("id") do nothing`,
        values,
        "run",
      );
    },

    async list(filters, pageSize, pageToken) {
      // A token continues only the listing (same filters) it was issued for.
      const digest = filterDigest(digestable(filters));
      const after = pageToken ? decodePageToken(pageToken, digest) : undefined;
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, ...values: unknown[]) => {
        where.push(sql);
        params.push(...values);
      };
      if (filters.startTime) add(`a."time" >= ?`, filters.startTime);
      if (filters.endTime) add(`a."time" < ?`, filters.endTime);
      if (filters.kind) add(`a."kind" = ?`, filters.kind);
      if (filters.actorKeyId) add(`a."actor_key_id" = ?`, filters.actorKeyId);
      if (filters.instance) {
        add(`(a."instance_id" = ? or a."instance_name" = ?)`, filters.instance, filters.instance);
      }
      if (filters.virtualServer) {
        const name = filters.virtualServerName ?? filters.virtualServer;
        add(
          `(a."virtual_server" in (?, ?) or (a."resource_type" = 'VirtualServer' and a."resource_id" = ?))`,
          filters.virtualServer,
          name,
          filters.virtualServer,
        );
      }
      if (filters.tool) add(`a."tool" = ?`, filters.tool);
      if (filters.outcome) add(`a."outcome" = ?`, filters.outcome);
      if (filters.resourceType) add(`a."resource_type" = ?`, filters.resourceType);
      if (after) {
        add(
          `(a."time" < ? or (a."time" = ? and a."id" < ?))`,
          after.createdAt,
          after.createdAt,
          after.id,
        );
      }
      const rows = await orm.em.fork().execute<Record<string, unknown>[]>(
        `select a.*, coalesce(k."display_name", '') as "actor_key_name",
                coalesce(u."name", '') as "actor_user", coalesce(u."subject", '') as "actor_subject",
                coalesce(u."issuer", '') as "actor_issuer"
           from ${TABLE} a left join "gateway"."api_keys" k on k."id" = a."actor_key_id"
           left join "gateway"."oauth_subjects" u on u."actor_id" = a."actor_key_id"
          ${where.length > 0 ? `where ${where.join(" and ")}` : ""}
          order by a."time" desc, a."id" desc
          limit ?`,
        [...params, pageSize + 1],
      );
      const page = rows.slice(0, pageSize).map(fromDb);
      const last = page.at(-1);
      const more = rows.length > pageSize && last;
      return {
        rows: page,
        nextPageToken: more ? encodePageToken({ createdAt: last.time, id: last.id }, digest) : "",
      };
    },

    async deleteBefore(before) {
      let total = 0;
      for (;;) {
        // In batches: a large backlog never holds one long transaction.
        const result = await orm.em
          .fork()
          .execute<{ affectedRows: number }>(
            `delete from ${TABLE} where "id" in (select "id" from ${TABLE} where "time" < ? limit ${DELETE_BATCH})`,
            [before],
            "run",
          );
        total += result.affectedRows;
        if (result.affectedRows < DELETE_BATCH) return total;
      }
    },
  };
}

/** The filters as a plain object (dates as text) for the page token's digest. */
function digestable(filters: AuditFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined || value === "") continue;
    out[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  return out;
}

function fromDb(row: Record<string, unknown>): ListedAuditRow {
  const text = (name: string) => String(row[name] ?? "");
  const fields = row.changed_fields;
  return {
    id: text("id"),
    kind: text("kind") as AuditRow["kind"],
    time: new Date(row.time as Date | string),
    actorKeyId: text("actor_key_id"),
    actorKeyName: text("actor_key_name"),
    actorUser: text("actor_user"),
    actorSubject: text("actor_subject"),
    actorIssuer: text("actor_issuer"),
    correlationId: text("correlation_id"),
    instanceId: text("instance_id"),
    instanceName: text("instance_name"),
    virtualServer: text("virtual_server"),
    method: text("method"),
    tool: text("tool"),
    argumentsDigest: text("arguments_digest"),
    durationMs: Number(row.duration_ms ?? 0),
    outcome: text("outcome"),
    errorCode: text("error_code"),
    sessionId: text("session_id"),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    resourceName: text("resource_name"),
    action: text("action"),
    revisionBefore: BigInt(String(row.revision_before ?? 0)),
    revisionAfter: BigInt(String(row.revision_after ?? 0)),
    changedFields: Array.isArray(fields) ? fields.map(String) : [],
    source: text("source"),
  };
}
