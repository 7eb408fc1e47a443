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

/** The user and password of a nats://user:pass@host URL (nats.js itself ignores them). */
function credentialsInUrl(server: string): NatsCredentials | undefined {
  try {
    const parsed = new URL(server);
    if (!parsed.username) return undefined;
    return {
      user: decodeURIComponent(parsed.username),
      pass: decodeURIComponent(parsed.password),
    };
  } catch {
    return undefined;
  }
}

/** The server URL without user and password, so they never reach a log line or an error. */
function withoutCredentials(server: string): string {
  try {
    const parsed = new URL(server);
    if (!parsed.username) return server;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return server;
  }
}

/** A NATS user and its password (each service has its own; see SECURITY.md). */
export interface NatsCredentials {
  user: string;
  pass: string;
}

/**
 * Connects to NATS (one-line StartupError naming NATS_URL when it cannot), then reconnects forever:
 * a NATS restart must not take a running service down. credentials log in as the service's own
 * NATS user, whose permissions decide what it may publish and read.
 */
export async function connectNats(
  url: string,
  name: string,
  variable = "NATS_URL",
  credentials?: NatsCredentials,
): Promise<NatsConnection> {
  const target = natsTarget(url);
  if (!target) {
    throw new StartupError(`${variable}: not a valid URL (expected nats://host:port)`);
  }
  const servers = url.split(",").map((server) => server.trim());
  const login = credentials ?? credentialsInUrl(servers[0] ?? "");
  try {
    return await connect({
      servers: servers.map(withoutCredentials),
      name,
      timeout: 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      waitOnFirstConnect: false,
      // Every request (each JetStream publish and KV operation) would otherwise build an Error
      // up front for its stack trace: a measurable cost per event on the outbox relay.
      noAsyncTraces: true,
      ...(login ? { user: login.user, pass: login.pass } : {}),
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
