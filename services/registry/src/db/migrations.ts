import { Migration } from "@mikro-orm/migrations";

/** The catalog table. */
class CreateServers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "registry"."servers" (
        "id" uuid primary key,
        "name" varchar(255) not null unique,
        "title" varchar(255) not null default '',
        "description" text not null default '',
        "version" varchar(255) not null default '',
        "tags" jsonb not null default '[]',
        "is_public" boolean not null default false,
        "status" varchar(32) not null,
        "image" varchar(1024) not null default '',
        "transport" varchar(32) not null,
        "port" integer not null default 0,
        "path" varchar(1024) not null default '',
        "command" jsonb not null default '[]',
        "args" jsonb not null default '[]',
        "env_schema" jsonb not null default '[]',
        "remotes" jsonb not null default '[]',
        "revision" bigint not null default 1,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null
      )`);
    this.addSql(
      `create index "servers_created_at_id_idx" on "registry"."servers" ("created_at", "id")`,
    );
  }
}

/** The registry's migrations, oldest first; names never change once released. */
export const registryMigrations = [{ name: "0001-create-servers", class: CreateServers }];
