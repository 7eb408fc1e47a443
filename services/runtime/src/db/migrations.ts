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

/** The channel workload ownership and desired-state changes are notified on (WorkloadLeases). */
export const WORKLOAD_CHANGES_CHANNEL = "berth_runtime_workloads";

/**
 * Runtime ownership by lease: every runtime process holds a row in runtimes whose expires_at it
 * renews (a heartbeat at the database's clock); every workload names its owner (a runtime row)
 * and an owner_epoch bumped on each change of owner (the compare-and-set token), and the engine
 * (Docker host) its workload was placed on. A trigger notifies every runtime of a change of
 * owner or desired state, so the owner reacts whichever runtime applied the event.
 */
class WorkloadLeases extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "runtime"."runtimes" (
        "id" uuid primary key,
        "name" varchar(255) not null,
        "engine" text not null,
        "address" text not null default '',
        "started_at" timestamptz not null default now(),
        "renewed_at" timestamptz not null default now(),
        "expires_at" timestamptz not null
      )`);
    this.addSql(`create index "runtimes_name_idx" on "runtime"."runtimes" ("name")`);
    this.addSql(`
      alter table "runtime"."workloads"
        add column "owner" uuid null,
        add column "owner_epoch" bigint not null default 0,
        add column "engine" text not null default ''`);
    this.addSql(`create index "workloads_owner_idx" on "runtime"."workloads" ("owner")`);
    this.addSql(`
      create function "runtime"."notify_workload_change"() returns trigger
      language plpgsql as $$
      begin
        if tg_op = 'INSERT' or new.owner is distinct from old.owner
           or new.owner_epoch <> old.owner_epoch or new.revision <> old.revision
           or new.desired <> old.desired then
          perform pg_notify('${WORKLOAD_CHANGES_CHANNEL}',
            json_build_object('id', new.instance_id, 'owner', new.owner,
              'epoch', new.owner_epoch)::text);
        end if;
        return null;
      end $$`);
    this.addSql(`
      create trigger "workloads_notify_change"
      after insert or update on "runtime"."workloads"
      for each row execute function "runtime"."notify_workload_change"()`);
  }
}

/** The runtime's migrations, oldest first; names never change once released. */
export const runtimeMigrations = [
  { name: "0001-create-workloads", class: CreateWorkloads },
  { name: "0002-endpoint-as-text", class: EndpointAsText },
  { name: "0003-last-request", class: LastRequest },
  { name: "0004-workload-leases", class: WorkloadLeases },
];
