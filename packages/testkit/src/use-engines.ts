import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { inject } from "vitest";
import { createTestDatabase } from "./test-database.js";
import type { Engines } from "./types.js";

/** Prefix of every stream Berth creates; tests own all of them. */
export const BERTH_STREAM_PREFIX = "BERTH_";

/**
 * For an integration test file (call it in beforeAll): a fresh database of its own and the
 * shared NATS server with every BERTH_* stream deleted, so each file starts from an empty bus.
 */
export async function useEngines(): Promise<Engines> {
  const natsUrl = inject("natsUrl");
  await deleteBerthStreams(natsUrl);
  const database = await createTestDatabase(inject("postgresAdminUrl"));
  return { databaseUrl: database.url, natsUrl, cleanup: () => database.drop() };
}

/** Deletes every JetStream stream whose name starts with BERTH_; returns the names deleted. */
export async function deleteBerthStreams(natsUrl: string): Promise<string[]> {
  const nc = await connect({ servers: natsUrl, reconnect: false, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const deleted: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (!name.startsWith(BERTH_STREAM_PREFIX)) continue;
      await jsm.streams.delete(name);
      deleted.push(name);
    }
    return deleted;
  } finally {
    await nc.close();
  }
}
