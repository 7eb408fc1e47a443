import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
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
  return {
    databaseUrl: database.url,
    natsUrl,
    natsServiceUrl: withoutCredentials(natsUrl),
    natsPasswords: inject("natsPasswords"),
    cleanup: () => database.drop(),
  };
}

/** A nats:// URL without its user and password. */
export function withoutCredentials(natsUrl: string): string {
  const url = new URL(natsUrl);
  url.username = "";
  url.password = "";
  return url.toString().replace(/\/$/, "");
}

/**
 * Connects (no reconnect) with the user and password of a nats://user:pass@host URL, which
 * nats.js itself would ignore.
 */
export async function connectAs(natsUrl: string, name?: string): Promise<NatsConnection> {
  const url = new URL(natsUrl);
  return connect({
    servers: withoutCredentials(natsUrl),
    reconnect: false,
    timeout: 5_000,
    ...(name ? { name } : {}),
    ...(url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : {}),
  });
}

/** Deletes every JetStream stream whose name starts with BERTH_; returns the names deleted. */
export async function deleteBerthStreams(natsUrl: string): Promise<string[]> {
  const nc = await connectAs(natsUrl);
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
