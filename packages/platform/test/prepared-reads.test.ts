import { useEngines } from "@berth/testkit";
import { defineEntity, type InferEntity, type MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, createPreparedReads } from "../src/db/index.js";
import { memoryLogger } from "./helpers.js";

// A hot read must hand the mappers exactly what the ORM would: property names, int8 as numbers,
// timestamps as Dates, JSON parsed, nulls kept.
const Gadget = defineEntity({
  name: "Gadget",
  tableName: "gadgets",
  properties: (p) => ({
    id: p.uuid().primary(),
    displayName: p.string(),
    tags: p.json<string[]>().columnType("jsonb"),
    revision: p.bigint("number"),
    createdAt: p.datetime().columnType("timestamptz"),
    retiredAt: p.datetime().columnType("timestamptz").nullable(),
  }),
});
type GadgetRow = InferEntity<typeof Gadget>;

class CreateGadgets extends Migration {
  override up(): void {
    this.addSql(
      `create table "gadgets" ("id" uuid primary key, "display_name" text not null, "tags" jsonb not null, "revision" bigint not null, "created_at" timestamptz not null, "retired_at" timestamptz null)`,
    );
  }
}
const migrations: MigrationObject[] = [{ name: "gadgets-v1", class: CreateGadgets }];

describe("createPreparedReads", () => {
  let orm: MikroORM;
  let cleanup: () => Promise<void> = async () => undefined;
  const first = {
    id: "0b9c1f7e-6f43-4c51-9d0e-0d5f2a6f8a01",
    displayName: "first",
    tags: ["a", "b"],
    revision: 9_007_199_254_740,
    createdAt: new Date("2026-11-27T10:00:00.123Z"),
    retiredAt: null,
  };
  const second = {
    ...first,
    id: "0b9c1f7e-6f43-4c51-9d0e-0d5f2a6f8a02",
    displayName: "second",
    tags: [],
    revision: 1,
    createdAt: new Date("2026-11-27T11:00:00.456Z"),
    retiredAt: new Date("2026-11-28T00:00:00.000Z"),
  };

  beforeAll(async () => {
    const engines = await useEngines();
    cleanup = engines.cleanup;
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "prepared_reads_test",
      entities: [Gadget],
      migrations,
      logger: memoryLogger().logger,
    });
    const em = orm.em.fork();
    em.create(Gadget, first);
    em.create(Gadget, second);
    await em.flush();
  });
  afterAll(async () => {
    await orm?.close(true);
    await cleanup();
  });

  it("returns rows shaped as the ORM's, from a named statement run again and again", async () => {
    const reads = createPreparedReads<GadgetRow>(orm, Gadget);
    const text = `select ${reads.columns} from gadgets where revision >= $1 order by created_at`;
    for (let i = 0; i < 3; i++) {
      const rows = await reads.query("gadgets.since_revision", text, [0]);
      expect(rows).toEqual([first, second]);
    }
    const viaOrm = await orm.em.fork().find(Gadget, {}, { orderBy: { createdAt: "asc" } });
    const plain = viaOrm.map((row) => ({ ...row }));
    expect(await reads.query("gadgets.since_revision", text, [0])).toEqual(plain);
  });

  it("reports SQL errors to the caller and keeps the pool usable", async () => {
    const reads = createPreparedReads<GadgetRow>(orm, Gadget);
    await expect(reads.query("gadgets.broken", "select nope from gadgets", [])).rejects.toThrow(
      /nope/,
    );
    const rows = await reads.query(
      "gadgets.by_id",
      `select ${reads.columns} from gadgets where id = $1`,
      [second.id],
    );
    expect(rows).toEqual([second]);
  });
});
