import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { StartupError } from "../service/startup-error.js";

/** host:port of a NATS URL (no credentials), or undefined when the URL is malformed. */
export function natsTarget(url: string): string | undefined {
  // A list of servers (comma separated) is named by its first one.
  const first = url.split(",")[0]?.trim() ?? "";
  try {
    const parsed = new URL(first.includes("://") ? first : `nats://${first}`);
    if (!parsed.hostname) return undefined;
    return `${parsed.hostname}:${parsed.port || "4222"}`;
  } catch {
    return undefined;
  }
}

/**
 * Connects to NATS (one-line StartupError naming NATS_URL when it cannot), then reconnects forever:
 * a NATS restart must not take a running service down.
 */
export async function connectNats(
  url: string,
  name: string,
  variable = "NATS_URL",
): Promise<NatsConnection> {
  const target = natsTarget(url);
  if (!target) {
    throw new StartupError(`${variable}: not a valid URL (expected nats://host:port)`);
  }
  try {
    return await connect({
      servers: url.split(",").map((server) => server.trim()),
      name,
      timeout: 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      waitOnFirstConnect: false,
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason =
      typeof code === "string" && code.length > 0
        ? code
        : error instanceof Error
          ? error.message.split("\n")[0]
          : String(error);
    throw new StartupError(`${variable}: cannot connect to nats at ${target} (${reason})`, {
      cause: error,
    });
  }
}
