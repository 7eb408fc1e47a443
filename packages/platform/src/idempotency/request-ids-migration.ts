import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import { quoteIdent } from "../db/quote-ident.js";

/**
 * Creates the service's `request_ids` table (see idempotent-writes.ts): one row per idempotent
 * write, committed with the write itself, holding what a retry must be answered with.
 */
class PlatformRequestIds extends Migration {
  override up(): void {
    const table = `${quoteIdent(this.config.get("schema") ?? "public")}.${quoteIdent("request_ids")}`;
    this.addSql(`create table if not exists ${table} (
      "request_id" uuid primary key,
      "method" varchar(255) not null,
      "request_hash" char(64) not null,
      "response" bytea not null,
      "created_at" timestamptz not null default now())`);
    this.addSql(
      `create index if not exists "request_ids_created_at_idx" on ${table} ("created_at")`,
    );
  }
}

/** The request ids table; a service lists it among its own migrations. */
export const requestIdsMigration: MigrationObject = {
  name: "berth-platform-request-ids-v1",
  class: PlatformRequestIds,
};
