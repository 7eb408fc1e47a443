import { requestIdsMigration } from "@berth/platform";
import { Migration } from "@mikro-orm/migrations";

/** The instances table and the encrypted secrets beside it. */
class CreateInstances extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "instances"."instances" (
        "id" uuid primary key,
        "name" varchar(255) not null unique,
        "description" text not null default '',
        "server_id" uuid null,
        "spec_type" varchar(16) not null,
        "json_spec" jsonb not null,
        "desired_state" varchar(16) not null,
        "status" varchar(16) not null,
        "status_message" text not null default '',
        "status_time" timestamptz null,
        "status_generation" bigint not null default 0,
        "status_sequence" bigint not null default 0,
        "endpoint" varchar(1024) not null,
        "generation" bigint not null,
        "revision" bigint not null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null
      )`);
    this.addSql(
      `create index "instances_created_at_id_idx" on "instances"."instances" ("created_at", "id")`,
    );
    this.addSql(`create index "instances_server_id_idx" on "instances"."instances" ("server_id")`);
    this.addSql(`
      create table "instances"."instance_secrets" (
        "instance_id" uuid not null references "instances"."instances" ("id") on delete cascade,
        "name" varchar(255) not null,
        "key_id" varchar(32) not null,
        "nonce" bytea not null,
        "ciphertext" bytea not null,
        "updated_at" timestamptz not null,
        primary key ("instance_id", "name")
      )`);
  }
}

/** What the gateway last saw of calls to the instance's upstream (its circuit breaker). */
class AddUpstream extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "instances"."instances" add column "upstream" jsonb null`);
  }
}

/** The runtime's idle policy and clock, as last reported. */
class AddIdle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "instances"."instances" add column "idle" jsonb null`);
  }
}

/** The instances service's migrations, oldest first; names never change once released. */
export const instancesMigrations = [
  { name: "0001-create-instances", class: CreateInstances },
  requestIdsMigration,
  { name: "0003-instance-upstream", class: AddUpstream },
  { name: "0004-instance-idle", class: AddIdle },
];
