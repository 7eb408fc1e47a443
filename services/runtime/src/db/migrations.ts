import { Migration } from "@mikro-orm/migrations";

/** The workloads table: desired and observed state per instance. */
class CreateWorkloads extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "runtime"."workloads" (
        "instance_id" varchar(255) primary key,
        "name" varchar(255) not null default '',
        "revision" bigint not null default 0,
        "generation" bigint not null default 0,
        "desired" varchar(16) not null,
        "spec" jsonb null,
        "driver" varchar(32) not null default '',
        "state" varchar(16) not null default 'PENDING',
        "message" text not null default '',
        "failed_revision" bigint not null default -1,
        "container_id" varchar(255) not null default '',
        "endpoint" varchar(2048) not null default '',
        "restart_count" integer not null default 0,
        "sequence" bigint not null default 0,
        "tools" jsonb null,
        "tools_observed_at" timestamptz null,
        "observed_at" timestamptz null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null
      )`);
  }
}

/**
 * The endpoint as text: a url instance's endpoint may be longer than 2048 characters (the
 * instances service accepted one of 2,100), and a value the store cannot hold must not stop the
 * runtime from recording the workload's health.
 */
class EndpointAsText extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "runtime"."workloads" alter column "endpoint" type text`);
    this.addSql(`alter table "runtime"."workloads" alter column "container_id" type text`);
  }
}

/** The idle policy's clock: the last MCP traffic the gateway reported. */
class LastRequest extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "runtime"."workloads" add column "last_request_at" timestamptz null`);
  }
}

/** The runtime's migrations, oldest first; names never change once released. */
export const runtimeMigrations = [
  { name: "0001-create-workloads", class: CreateWorkloads },
  { name: "0002-endpoint-as-text", class: EndpointAsText },
  { name: "0003-last-request", class: LastRequest },
];
