import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import { quoteIdent } from "./quote-ident.js";

/** The table name qualified with the service's schema (the config's `schema`). */
function table(migration: { schemaName(): string }, name: string): string {
  return `${quoteIdent(migration.schemaName())}.${quoteIdent(name)}`;
}

/** Creates the transactional outbox (see events/outbox.ts); seq orders rows by insertion. */
class PlatformOutbox extends Migration {
  schemaName(): string {
    return this.config.get("schema") ?? "public";
  }

  override up(): void {
    const outbox = table(this, "outbox");
    this.addSql(`create table if not exists ${outbox} (
      "seq" bigint generated always as identity,
      "id" uuid primary key,
      "subject" varchar(255) not null,
      "event_type" varchar(255) not null,
      "aggregate_id" varchar(255) not null,
      "payload" bytea not null,
      "headers" jsonb not null default '{}',
      "created_at" timestamptz not null default now(),
      "sent_at" timestamptz null,
      "attempts" int not null default 0)`);
    this.addSql(
      `create index if not exists "outbox_unsent_idx" on ${outbox} ("seq") where "sent_at" is null`,
    );
    this.addSql(
      `create index if not exists "outbox_sent_idx" on ${outbox} ("sent_at") where "sent_at" is not null`,
    );
  }
}

/** Creates the consumer inbox (see events/inbox.ts): one row per applied event and consumer. */
class PlatformInbox extends Migration {
  schemaName(): string {
    return this.config.get("schema") ?? "public";
  }

  override up(): void {
    this.addSql(`create table if not exists ${table(this, "inbox")} (
      "event_id" uuid not null,
      "consumer" varchar(255) not null,
      "event_type" varchar(255) not null,
      "received_at" timestamptz not null default now(),
      primary key ("event_id", "consumer"))`);
  }
}

/** The platform's outbox migration; runs before the service's own migrations. */
export const outboxMigration: MigrationObject = {
  name: "berth-platform-outbox-v1",
  class: PlatformOutbox,
};

/** The platform's inbox migration; runs before the service's own migrations. */
export const inboxMigration: MigrationObject = {
  name: "berth-platform-inbox-v1",
  class: PlatformInbox,
};
