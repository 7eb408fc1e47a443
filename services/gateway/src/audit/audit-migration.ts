import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";

/** The audit trail: MCP calls and changes, one table, read newest first with filters. */
class CreateAuditRecords extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."audit_records" (
        "id" uuid primary key,
        "kind" varchar(16) not null,
        "time" timestamptz not null,
        "actor_key_id" varchar(64) not null default '',
        "correlation_id" varchar(128) not null default '',
        "instance_id" varchar(64) not null default '',
        "instance_name" varchar(255) not null default '',
        "virtual_server" varchar(255) not null default '',
        "method" varchar(255) not null default '',
        "tool" varchar(255) not null default '',
        "arguments_digest" varchar(64) not null default '',
        "duration_ms" integer not null default 0,
        "outcome" varchar(16) not null default '',
        "error_code" varchar(64) not null default '',
        "session_id" varchar(255) not null default '',
        "resource_type" varchar(32) not null default '',
        "resource_id" varchar(64) not null default '',
        "resource_name" varchar(255) not null default '',
        "action" varchar(16) not null default '',
        "revision_before" bigint not null default 0,
        "revision_after" bigint not null default 0,
        "changed_fields" jsonb not null default '[]',
        "source" varchar(32) not null default ''
      )`);
    // Newest first is the listing order; the other indexes serve the common filters.
    this.addSql(
      `create index "audit_records_time_id_idx" on "gateway"."audit_records" ("time" desc, "id" desc)`,
    );
    this.addSql(
      `create index "audit_records_actor_idx" on "gateway"."audit_records" ("actor_key_id", "time" desc)`,
    );
    this.addSql(
      `create index "audit_records_instance_idx" on "gateway"."audit_records" ("instance_id", "time" desc)`,
    );
  }
}

/** The gateway's audit table; listed after the API keys' migrations. */
export const auditMigration: MigrationObject = {
  name: "0002-create-audit-records",
  class: CreateAuditRecords,
};
