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

/**
 * Each user's delegated OAuth grant to a url instance's upstream (json_spec.delegation), sealed
 * like the secrets; deleted with the instance.
 */
class CreateUserGrants extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "instances"."user_grants" (
        "instance_id" uuid not null references "instances"."instances" ("id") on delete cascade,
        "user" varchar(64) not null,
        "key_id" varchar(32) not null,
        "nonce" bytea not null,
        "ciphertext" bytea not null,
        "updated_at" timestamptz not null,
        primary key ("instance_id", "user")
      )`);
    this.addSql(`create index "user_grants_user_idx" on "instances"."user_grants" ("user")`);
  }
}

/** The team that owns each instance; instances made before teams belong to the default team. */
class AddTeam extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "instances"."instances" add column "team" varchar(63) not null default 'default'`,
    );
    this.addSql(
      `create index "instances_team_created_at_id_idx" on "instances"."instances" ("team", "created_at", "id")`,
    );
  }
}

/**
 * Instance change notices name the owning team too, so that a deletion (whose row is gone) can
 * be shown to the team's members only, also to a watcher that never saw the instance change.
 */
class NotifyInstanceTeam extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create or replace function "instances"."notify_instance_change"() returns trigger
      language plpgsql as $$
      declare
        row_id uuid := case when tg_op = 'DELETE' then old.id else new.id end;
        row_name text := case when tg_op = 'DELETE' then old.name else new.name end;
        row_team text := case when tg_op = 'DELETE' then old.team else new.team end;
      begin
        perform pg_notify('${INSTANCE_CHANGES_CHANNEL}',
          json_build_object('id', row_id, 'op', tg_op, 'name', row_name, 'team', row_team)::text);
        return null;
      end $$`);
  }
}

/** The channel instance changes are notified on (NotifyInstanceChanges). */
export const INSTANCE_CHANGES_CHANNEL = "berth_instances";

/**
 * Every committed change of an instance row is notified on `berth_instances` (id, operation,
 * name): each replica LISTENs and feeds its Watch streams, whichever replica wrote. A trigger,
 * so that no write path can forget it; the payload stays far below NOTIFY's 8000 bytes.
 */
class NotifyInstanceChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create function "instances"."notify_instance_change"() returns trigger
      language plpgsql as $$
      declare
        row_id uuid := case when tg_op = 'DELETE' then old.id else new.id end;
        row_name text := case when tg_op = 'DELETE' then old.name else new.name end;
      begin
        perform pg_notify('${INSTANCE_CHANGES_CHANNEL}',
          json_build_object('id', row_id, 'op', tg_op, 'name', row_name)::text);
        return null;
      end $$`);
    this.addSql(`
      create trigger "instances_notify_change"
      after insert or update or delete on "instances"."instances"
      for each row execute function "instances"."notify_instance_change"()`);
  }
}

/** The instances service's migrations, oldest first; names never change once released. */
export const instancesMigrations = [
  { name: "0001-create-instances", class: CreateInstances },
  requestIdsMigration,
  { name: "0003-instance-upstream", class: AddUpstream },
  { name: "0004-instance-idle", class: AddIdle },
  { name: "0005-notify-instance-changes", class: NotifyInstanceChanges },
  { name: "0006-user-grants", class: CreateUserGrants },
  { name: "0007-instance-team", class: AddTeam },
  { name: "0008-notify-instance-team", class: NotifyInstanceTeam },
];
