import { requestIdsMigration } from "@berth/platform";
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

/**
 * Imported server.json documents and their extra fields, millisecond timestamps (page tokens carry
 * them exactly), list filters' indexes, and the usage table fed by instance events.
 */
class ImportsAndUsage extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table "registry"."servers"
        add column "website_url" varchar(2048) not null default '',
        add column "repository" jsonb null,
        add column "server_json" json null,
        alter column "created_at" type timestamptz(3),
        alter column "updated_at" type timestamptz(3)`);
    this.addSql(`create index "servers_tags_idx" on "registry"."servers" using gin ("tags")`);
    this.addSql(`
      create table "registry"."server_usage" (
        "instance_id" uuid primary key,
        "server_id" varchar(255) not null default '',
        "version" bigint not null default 0,
        "deleted" boolean not null default false,
        "updated_at" timestamptz not null
      )`);
    this.addSql(
      `create index "server_usage_server_idx" on "registry"."server_usage" ("server_id") where not "deleted"`,
    );
  }
}

/** Catalog entries may grant an http server's container egress (off by default). */
class NetworkEgress extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "registry"."servers" add column "network_egress" boolean not null default false`,
    );
  }
}

/** Catalog entries may give their instances an idle policy default (0: none). */
class IdleTimeout extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "registry"."servers" add column "idle_timeout_seconds" integer not null default 0`,
    );
  }
}

/** The registry's migrations, oldest first; names never change once released. */
export const registryMigrations = [
  { name: "0001-create-servers", class: CreateServers },
  { name: "0002-imports-and-usage", class: ImportsAndUsage },
  requestIdsMigration,
  { name: "0004-network-egress", class: NetworkEgress },
  { name: "0005-idle-timeout", class: IdleTimeout },
];
