import { useEngines } from "@berth/testkit";
import {
  defineEntity,
  type MigrationObject,
  UniqueConstraintViolationException,
} from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, insertRows } from "../src/db/index.js";
import { memoryLogger } from "./helpers.js";

// A state row and its event in one statement: both are written as the ORM would write them (a
// JSON array stays JSON, a default fills a value left out), or neither is.
const Widget = defineEntity({
  name: "Widget",
  tableName: "widgets",
  properties: (p) => ({
    id: p.uuid().primary(),
    name: p.string().unique(),
    tags: p.json<string[]>().columnType("jsonb"),
    note: p.text().default(""),
    revision: p.bigint("number"),
    createdAt: p.datetime().columnType("timestamptz"),
  }),
});
const WidgetEvent = defineEntity({
  name: "WidgetEvent",
  tableName: "widget_events",
  properties: (p) => ({
    id: p.uuid().primary(),
    widgetId: p.uuid(),
    payload: p.blob().columnType("bytea"),
  }),
});

class CreateWidgets extends Migration {
  override up(): void {
    this.addSql(
      `create table "widgets" ("id" uuid primary key, "name" text not null unique, "tags" jsonb not null, "note" text not null, "revision" bigint not null, "created_at" timestamptz not null)`,
    );
    this.addSql(
      `create table "widget_events" ("id" uuid primary key, "widget_id" uuid not null, "payload" bytea not null)`,
    );
  }
}
const migrations: MigrationObject[] = [{ name: "widgets-v1", class: CreateWidgets }];

describe("insertRows", () => {
  let orm: MikroORM;
  let cleanup: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const engines = await useEngines();
    cleanup = engines.cleanup;
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "insert_rows_test",
      entities: [Widget, WidgetEvent],
      migrations,
      logger: memoryLogger().logger,
    });
  });
  afterAll(async () => {
    await orm?.close(true);
    await cleanup();
  });

  const rows = (id: string, eventId: string, name: string) => [
    {
      entity: Widget,
      values: {
        id,
        name,
        tags: ["a", "b"],
        revision: 9_007_199_254_740,
        createdAt: new Date("2026-11-27T10:00:00.123Z"),
      },
    },
    { entity: WidgetEvent, values: { id: eventId, widgetId: id, payload: Buffer.from([1, 2, 3]) } },
  ];

  it("writes the rows of several entities in one statement, as the ORM reads them back", async () => {
    const id = "6f1d8c2a-0d3b-4c5e-9a7f-1b2c3d4e5f01";
    const eventId = "6f1d8c2a-0d3b-4c5e-9a7f-1b2c3d4e5f02";
    await insertRows(orm, "widgets.create", rows(id, eventId, "first"));
    const em = orm.em.fork();
    const widget = await em.findOneOrFail(Widget, id);
    expect(widget).toMatchObject({
      name: "first",
      tags: ["a", "b"],
      note: "",
      revision: 9_007_199_254_740,
    });
    expect(widget.createdAt.toISOString()).toBe("2026-11-27T10:00:00.123Z");
    const event = await em.findOneOrFail(WidgetEvent, eventId);
    expect(event.widgetId).toBe(id);
    expect([...event.payload]).toEqual([1, 2, 3]);
  });

  it("writes nothing when one row breaks a constraint, and says so with the ORM's exception", async () => {
    const id = "6f1d8c2a-0d3b-4c5e-9a7f-1b2c3d4e5f03";
    const eventId = "6f1d8c2a-0d3b-4c5e-9a7f-1b2c3d4e5f04";
    await expect(
      insertRows(orm, "widgets.create", rows(id, eventId, "first")),
    ).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    const em = orm.em.fork();
    expect(await em.findOne(Widget, id)).toBeNull();
    expect(await em.findOne(WidgetEvent, eventId), "the event of a row never written").toBeNull();
  });
});
