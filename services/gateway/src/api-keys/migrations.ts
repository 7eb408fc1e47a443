import { requestIdsMigration } from "@berth/platform";
import { Migration } from "@mikro-orm/migrations";
import { auditMigration } from "../audit/audit-migration.js";
import { delegationMigration } from "../delegation/delegation-migration.js";
import { oauthMigration } from "../oauth/oauth-migration.js";
import { teamsMigration } from "../teams/teams-migration.js";

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

/** Virtual servers, and the virtual servers (and tools in them) an API key is limited to. */
class CreateVirtualServers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."virtual_servers" (
        "id" uuid primary key,
        "name" varchar(63) not null unique,
        "description" text not null default '',
        "members" jsonb not null,
        "revision" integer not null default 1,
        "create_time" timestamptz not null,
        "update_time" timestamptz not null
      )`);
    this.addSql(
      `create index "virtual_servers_create_time_id_idx" on "gateway"."virtual_servers" ("create_time" desc, "id" desc)`,
    );
    this.addSql(
      `alter table "gateway"."api_keys" add column "virtual_servers" jsonb not null default '[]'`,
    );
  }
}

/** The gateway's migrations, oldest first; names never change once released. */
export const gatewayMigrations = [
  { name: "0001-create-api-keys", class: CreateApiKeys },
  requestIdsMigration,
  auditMigration,
  { name: "0003-create-virtual-servers", class: CreateVirtualServers },
  oauthMigration,
  delegationMigration,
  teamsMigration,
];
