import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";

/**
 * The embedded authorization server's tables: users; its records (grants, sessions, codes,
 * refresh tokens, registered clients, interactions) as oidc-provider models them, with the
 * columns it looks them up by; its signing and cookie keys, made once; and the token subjects
 * the audit trail names.
 */
class CreateOAuthIdentity extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "gateway"."users" (
        "id" uuid primary key,
        "username" varchar(64) not null unique,
        "display_name" varchar(255) not null default '',
        "password_hash" text not null,
        "scopes" jsonb not null,
        "create_time" timestamptz not null
      )`);
    this.addSql(
      `create index "users_create_time_id_idx" on "gateway"."users" ("create_time" desc, "id" desc)`,
    );
    this.addSql(`
      create table "gateway"."oauth_records" (
        "model" varchar(64) not null,
        "id" varchar(255) not null,
        "payload" jsonb not null,
        "grant_id" varchar(255) null,
        "user_code" varchar(255) null,
        "uid" varchar(255) null,
        "account_id" varchar(255) null,
        "expires_at" timestamptz null,
        primary key ("model", "id")
      )`);
    this.addSql(`create index "oauth_records_grant_idx" on "gateway"."oauth_records" ("grant_id")`);
    this.addSql(`create index "oauth_records_uid_idx" on "gateway"."oauth_records" ("uid")`);
    this.addSql(
      `create index "oauth_records_account_idx" on "gateway"."oauth_records" ("account_id")`,
    );
    this.addSql(
      `create index "oauth_records_expires_idx" on "gateway"."oauth_records" ("expires_at")`,
    );
    this.addSql(`
      create table "gateway"."oauth_keys" (
        "name" varchar(64) primary key,
        "value" jsonb not null,
        "create_time" timestamptz not null
      )`);
    this.addSql(`
      create table "gateway"."oauth_subjects" (
        "actor_id" varchar(64) primary key,
        "issuer" text not null,
        "subject" text not null,
        "name" text not null default '',
        "last_seen" timestamptz not null
      )`);
  }
}

/** Listed after the gateway's other migrations. */
export const oauthMigration: MigrationObject = {
  name: "0004-create-oauth-identity",
  class: CreateOAuthIdentity,
};
