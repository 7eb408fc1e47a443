import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";

/**
 * Teams and their members; the default team, which everything made before teams joins: API keys
 * (with the role their scopes stood for), virtual servers, and users (as members with the role
 * their scopes stood for). Instances get their team in the instances service's own schema.
 */
class CreateTeams extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."teams" (
        "name" varchar(63) primary key,
        "display_name" varchar(255) not null default '',
        "create_time" timestamptz not null
      )`);
    this.addSql(
      `insert into "gateway"."teams" ("name", "display_name", "create_time") values ('default', 'Default team', now())`,
    );
    this.addSql(`
      create table "gateway"."team_members" (
        "team" varchar(63) not null references "gateway"."teams" ("name") on delete cascade,
        "user_id" uuid not null references "gateway"."users" ("id") on delete cascade,
        "role" varchar(16) not null,
        "create_time" timestamptz not null,
        primary key ("team", "user_id")
      )`);
    this.addSql(`create index "team_members_user_idx" on "gateway"."team_members" ("user_id")`);
    const roleOfScopes = (column: string) => `case
        when ${column} @> '["admin"]' then 'admin'
        when ${column} @> '["write"]' then 'editor'
        when ${column} @> '["read"]' then 'viewer'
        when ${column} @> '["mcp"]' then 'agent'
        else 'viewer' end`;
    this.addSql(
      `alter table "gateway"."api_keys" add column "team" varchar(63) not null default 'default'`,
    );
    this.addSql(
      `alter table "gateway"."api_keys" add column "role" varchar(16) not null default 'viewer'`,
    );
    this.addSql(`update "gateway"."api_keys" set "role" = ${roleOfScopes(`"scopes"`)}`);
    this.addSql(`create index "api_keys_team_idx" on "gateway"."api_keys" ("team")`);
    this.addSql(
      `alter table "gateway"."virtual_servers" add column "team" varchar(63) not null default 'default'`,
    );
    this.addSql(`create index "virtual_servers_team_idx" on "gateway"."virtual_servers" ("team")`);
    this.addSql(`
      insert into "gateway"."team_members" ("team", "user_id", "role", "create_time")
      select 'default', "id", ${roleOfScopes(`"scopes"`)}, now() from "gateway"."users"`);
  }
}

/** Listed after the OAuth migration (team members reference users). */
export const teamsMigration: MigrationObject = { name: "0006-create-teams", class: CreateTeams };
