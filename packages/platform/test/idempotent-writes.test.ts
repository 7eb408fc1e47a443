import { randomUUID } from "node:crypto";
import {
  InstancesService,
  StartInstanceRequestSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../src/db/index.js";
import { createIdempotentWrites, requestIdsMigration } from "../src/idempotency/index.js";
import { memoryLogger, waitFor } from "./helpers.js";

class CreateWidgets extends Migration {
  override up(): void {
    this.addSql(`create table "widgets" ("id" uuid primary key, "name" text not null)`);
  }
}
const migrations: MigrationObject[] = [
  { name: "widgets-v1", class: CreateWidgets },
  requestIdsMigration,
];
const method = InstancesService.method.startInstance;

// The helper every service wraps its writes in: the write and its request id are one commit.
describe("idempotent writes", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let orm: MikroORM;
  const { logger } = memoryLogger();

  beforeAll(async () => {
    engines = await useEngines();
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "idem",
      entities: [],
      migrations,
      logger,
    });
  });
  afterAll(async () => {
    await orm?.close(true);
    await engines?.cleanup();
  });

  const widgets = async (name: string) =>
    (await orm.em.fork().execute(`select id from idem.widgets where name = ?`, [name])).length;
  /** A write in the style of the services: its own transaction on a fork of orm.em. */
  const addWidget = (name: string) => async (db: MikroORM) => {
    const id = randomUUID();
    await db.em
      .fork()
      .transactional((em) =>
        em.execute(`insert into widgets (id, name) values (?, ?)`, [id, name]),
      );
    return { instance: { id, name, description: "shown once" } };
  };
  const request = (name: string, requestId: string) =>
    create(StartInstanceRequestSchema, { id: name, requestId });

  it("rolls the write back when its request id cannot be recorded", async () => {
    const writes = createIdempotentWrites({ orm, logger });
    const requestId = randomUUID();
    const failing = writes.run({
      method,
      request: request("rolled-back", requestId),
      execute: addWidget("rolled-back"),
      remembered: () => {
        throw new Error("disk full");
      },
    });
    await expect(failing).rejects.toThrow("disk full");
    expect(await widgets("rolled-back")).toBe(0);
    const ids = await orm.em
      .fork()
      .execute(`select 1 from idem.request_ids where request_id = ?`, [requestId]);
    expect(ids).toHaveLength(0);
  });

  it("replays what remembered() kept, while the first caller sees the whole response", async () => {
    const writes = createIdempotentWrites({ orm, logger });
    const call = {
      method,
      request: request("redacted", randomUUID()),
      execute: addWidget("redacted"),
      remembered: (response: { instance?: { description: string } }) => {
        if (response.instance) response.instance.description = "";
        return response as never;
      },
    };
    const first = await writes.run(call);
    expect(first).toMatchObject({
      replayed: false,
      response: { instance: { description: "shown once" } },
    });
    const retry = await writes.run(call);
    expect(retry.replayed).toBe(true);
    expect(retry.response.instance).toMatchObject({
      id: first.response.instance!.id,
      description: "",
    });
    expect(await widgets("redacted")).toBe(1);
  });

  it("forgets a request id after the retention period and prunes it", async () => {
    const writes = createIdempotentWrites({ orm, logger, retentionMs: 300 });
    const requestId = randomUUID();
    const call = {
      method,
      request: request("expiring", requestId),
      execute: addWidget("expiring"),
    };
    const other = randomUUID();
    await writes.run({ method, request: request("pruned", other), execute: addWidget("pruned") });
    const first = await writes.run(call);
    expect((await writes.run(call)).replayed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const later = await writes.run(call);
    expect(later.replayed).toBe(false);
    expect(later.response.instance!.id).not.toBe(first.response.instance!.id);
    expect(await widgets("expiring")).toBe(2);
    const remembered = async () =>
      (await orm.em.fork().execute(`select 1 from idem.request_ids where request_id = ?`, [other]))
        .length;
    expect(await waitFor(async () => (await remembered()) === 0, 5_000)).toBe(true);
  });

  it("runs a call without a request id as it is, recording nothing", async () => {
    const writes = createIdempotentWrites({ orm, logger });
    const call = { method, request: request("plain", ""), execute: addWidget("plain") };
    await writes.run(call);
    await writes.run(call);
    expect(await widgets("plain")).toBe(2);
  });
});
