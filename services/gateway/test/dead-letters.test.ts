import { randomUUID } from "node:crypto";
import { connectNats, createEnvelope, encodeEnvelope, subjectFor } from "@berth/platform";
import { McpServerInstanceStatusChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { pollUntil, useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

type DeadLetterJson = {
  id: string;
  service: string;
  consumer: string;
  reason: string;
  subject: string;
  eventId: string;
  aggregateId: string;
};

// Dead letters as an operator sees them: through REST (admin only) and `berth dead-letters`.
describe("dead letters at the gateway and in the CLI", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let nc: NatsConnection;

  beforeAll(async () => {
    engines = await useEngines();
    // The runtime produced the forged events: it is the one that replays them.
    mesh = await startKeyedMesh(engines, { services: ["registry", "instances", "runtime"] });
    nc = await connectNats(engines.natsUrl, "forger");
  });
  afterAll(async () => {
    await nc?.drain();
    await mesh?.stop();
    await engines?.cleanup();
  });

  /** A status report as the runtime would publish it, about aggregateId. */
  async function forgeStatus(aggregateId: string): Promise<string> {
    const envelope = createEnvelope({
      schema: McpServerInstanceStatusChangedSchema,
      payload: create(McpServerInstanceStatusChangedSchema, { instanceId: aggregateId }),
      aggregateType: "McpServerInstance",
      aggregateId,
      aggregateVersion: 1,
      source: "runtime",
    });
    await jetstream(nc).publish(
      subjectFor(McpServerInstanceStatusChangedSchema.typeName),
      encodeEnvelope(envelope),
      { msgID: envelope.eventId },
    );
    return envelope.eventId;
  }

  const list = async (query = "") => {
    const response = await mesh.rest("GET", `/v1/deadLetters${query}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { deadLetters?: DeadLetterJson[] }).deadLetters ?? [];
  };

  it("lists a forged event with its reason, for admins only, and replays it", async () => {
    const eventId = await forgeStatus("instance-1; drop table");
    expect(await pollUntil(async () => (await list()).some((d) => d.eventId === eventId))).toBe(
      true,
    );
    const letter = (await list("?service=instances")).find((d) => d.eventId === eventId);
    expect(letter).toMatchObject({
      service: "instances",
      consumer: "status",
      subject: "berth.runtime.instance.status_changed",
      reason: "aggregate_id: not a UUID",
    });

    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ", "API_KEY_SCOPE_WRITE"] });
    expect((await mesh.rest("GET", "/v1/deadLetters", undefined, reader.key)).status).toBe(403);
    const replayPath = `/v1/deadLetters/${letter?.id}:replay`;
    expect((await mesh.rest("POST", replayPath, {}, reader.key)).status).toBe(403);

    const replayed = await mesh.rest("POST", replayPath, {});
    expect(replayed.status).toBe(200);
    expect(await replayed.json()).toMatchObject({ deadLetter: { id: letter?.id, eventId } });
    // Delivered again to the consumer, which refuses it again: a new letter for the same event.
    expect(
      await pollUntil(async () =>
        (await list()).some((d) => d.eventId === eventId && d.id !== letter?.id),
      ),
    ).toBe(true);
    expect((await list()).some((d) => d.id === letter?.id)).toBe(false);
    expect((await mesh.rest("POST", replayPath, {})).status).toBe(404);
  });

  it("names the bad field of a request", async () => {
    const badId = await mesh.rest("POST", "/v1/deadLetters/abc:replay", {});
    expect(badId.status).toBe(400);
    expect(await badId.text()).toContain("id: must be a dead letter id");
    const badService = await mesh.rest("GET", "/v1/deadLetters?service=runtime.%3E");
    expect(badService.status).toBe(400);
    expect(await badService.text()).toContain("service: must be a service name");
    const badToken = await mesh.rest("GET", "/v1/deadLetters?pageToken=-1");
    expect(badToken.status).toBe(400);
  });

  it("pages through dead letters and shows and replays them with `berth dead-letters`", async () => {
    const ids = [randomUUID().slice(0, 8), randomUUID().slice(0, 8)];
    for (const id of ids) await forgeStatus(`bad-${id}`);
    const listed = async () => {
      const letters = await list();
      return ids.every((id) => letters.some((d) => d.aggregateId === `bad-${id}`));
    };
    expect(await pollUntil(listed)).toBe(true);
    const first = await mesh.rest("GET", "/v1/deadLetters?pageSize=1");
    const page = (await first.json()) as { deadLetters: DeadLetterJson[]; nextPageToken: string };
    expect(page.deadLetters).toHaveLength(1);
    expect(page.nextPageToken).not.toBe("");

    const berth = (args: string[]) =>
      runBerth(args, { url: mesh.gateway.url, apiKey: mesh.adminKey, timeoutMs: 60_000 });
    const shown = await berth(["dead-letters", "list"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split("\n")[0]).toMatch(
      /^ID\s+CONSUMER\s+SUBJECT\s+EVENT\s+REASON\s+SINCE$/,
    );
    expect(shown.stdout).toMatch(/instances\/status\s+berth\.runtime\.instance\.status_changed/);
    expect(shown.stdout).toContain("aggregate_id: not a UUID");
    const target = page.deadLetters[0]!;
    const replayed = await berth(["dead-letters", "replay", target.id]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(target.eventId);
    const missing = await berth(["dead-letters", "replay", target.id]);
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.stderr).toContain("NOT_FOUND");
  });
});
