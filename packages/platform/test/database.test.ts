import { useEngines } from "@berth/testkit";
import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../src/db/index.js";
import { StartupError } from "../src/service/startup-error.js";
import { memoryLogger } from "./helpers.js";

// Unqualified on purpose: a service's own SQL lands in the service's schema.
class CreateWidgets extends Migration {
  override up(): void {
    this.addSql(`create table "widgets" ("id" uuid primary key, "name" text not null)`);
  }
}
const widgetMigrations: MigrationObject[] = [{ name: "widgets-v1", class: CreateWidgets }];

async function tablesOf(url: string, schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = $1 order by table_name",
      [schema],
    );
    return result.rows.map((row) => row.table_name);
  } finally {
    await client.end();
  }
}

describe("createDatabase", () => {
  let databaseUrl = "";
  let cleanup: () => Promise<void> = async () => undefined;
  const opened: MikroORM[] = [];
  const { logger, lines } = memoryLogger();
  const open = async (schema: string, migrations = widgetMigrations) => {
    const orm = await createDatabase({
      url: databaseUrl,
      schema,
      entities: [],
      migrations,
      logger,
      withOutbox: true,
      withInbox: true,
    });
    opened.push(orm);
    return orm;
  };

  beforeAll(async () => {
    const engines = await useEngines();
    databaseUrl = engines.databaseUrl;
    cleanup = engines.cleanup;
  });
  afterAll(async () => {
    for (const orm of opened) await orm.close(true);
    await cleanup();
  });

  it("creates the schema, platform and service tables, with bookkeeping inside the schema", async () => {
    await open("alpha");
    expect(await tablesOf(databaseUrl, "alpha")).toEqual([
      "inbox",
      "mikro_orm_migrations",
      "outbox",
      "widgets",
    ]);
    expect(await tablesOf(databaseUrl, "public")).toEqual([]);
  });

  it("is idempotent on a second start: nothing re-runs, nothing fails", async () => {
    const orm = await open("alpha");
    const executed = await orm.em
      .fork()
      .execute<{ name: string }[]>(`select name from "alpha"."mikro_orm_migrations" order by id`);
    expect(executed.map((row) => row.name)).toEqual([
      "berth-platform-outbox-v1",
      "berth-platform-inbox-v1",
      "widgets-v1",
    ]);
  });

  it("lets two services start at once on the same schema", async () => {
    const results = await Promise.allSettled([open("beta"), open("beta"), open("gamma")]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect(await tablesOf(databaseUrl, "beta")).toContain("widgets");
  });

  it("logs SQL at debug level without the values bound to it", async () => {
    const orm = await open("alpha");
    await orm.em
      .fork()
      .execute(`insert into "alpha"."widgets" (id, name) values (?, ?)`, [
        "7d0c8a52-4d4b-4a57-9a36-1f1f7f5d7a11",
        "value-that-must-not-be-logged",
      ]);
    expect(lines.some((line) => line.includes('"orm":"query"'))).toBe(true);
    expect(lines.join("\n")).not.toContain("value-that-must-not-be-logged");
  });

  it("turns a malformed or unreachable DATABASE_URL into one line without the password", async () => {
    const attempts = [
      "postgres://berth:hunter2-secret@127.0.0.1:notaport/berth",
      "mysql://berth:hunter2-secret@127.0.0.1:3306/berth",
      "postgres://berth:hunter2-secret@127.0.0.1:1/berth",
    ];
    const messages: string[] = [];
    for (const url of attempts) {
      const error = await createDatabase({
        url,
        schema: "x",
        entities: [],
        migrations: [],
        logger,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(StartupError);
      messages.push(error.message);
    }
    for (const message of messages) {
      expect(message).toMatch(/^DATABASE_URL: /);
      expect(message).not.toContain("hunter2-secret");
      expect(message).not.toContain("\n");
    }
    expect(messages[2]).toBe(
      "DATABASE_URL: cannot connect to postgres at 127.0.0.1:1/berth (ECONNREFUSED)",
    );
  });
});
