import { requestIdsMigration } from "@berth/platform";
import { Migration } from "@mikro-orm/migrations";
import { auditMigration } from "../audit/audit-migration.js";

/** The API keys table. */
class CreateApiKeys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."api_keys" (
        "id" varchar(16) primary key,
        "display_name" varchar(255) not null,
        "secret_hash" char(64) not null,
        "scopes" jsonb not null,
        "instances" jsonb not null default '[]',
        "rate_limit_per_second" double precision not null default 0,
        "rate_limit_burst" integer not null default 0,
        "expire_time" timestamptz null,
        "create_time" timestamptz not null,
        "revoke_time" timestamptz null,
        "created_by" varchar(16) not null default ''
      )`);
    this.addSql(
      `create index "api_keys_create_time_id_idx" on "gateway"."api_keys" ("create_time" desc, "id" desc)`,
    );
  }
}

/** The gateway's migrations, oldest first; names never change once released. */
export const gatewayMigrations = [
  { name: "0001-create-api-keys", class: CreateApiKeys },
  requestIdsMigration,
  auditMigration,
];
