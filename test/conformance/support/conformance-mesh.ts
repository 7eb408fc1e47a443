import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "@berth/testkit/engines";
import { type MeshEngines, startMesh, type TestMesh } from "../../support/mesh.js";
import type { FixtureProcess } from "./fixture-process.js";

/** Every way an instance can be reached through Berth; each gets its own instance. */
export const BERTH_PATHS = ["stdio-container", "http-container", "url"] as const;
export type BerthPath = (typeof BERTH_PATHS)[number];

/** A mesh serving the conformance fixture on each asked path through /mcp/{instance}. */
export interface ConformanceMesh {
  mesh: TestMesh;
  /** `authorization` for the gateway. */
  authorization: string;
  /** The gateway URL of a path's instance. */
  urlOf(path: BerthPath): string;
  /**
   * /mcp/v/conformance-virtual: a virtual server whose only member is the first path's instance,
   * with no prefix (the suite calls the fixture's tools by their own names).
   */
  virtualUrl: string;
  stop(): Promise<void>;
}

const CATALOG = new URL("../../fixtures/conformance-server/catalog/", import.meta.url);
const RUNNING_MS = 90_000;
const BUILD_SCRIPT = fileURLToPath(
  new URL("../../../deploy/images/build-mcp-images.sh", import.meta.url),
);

/** Builds berth/mcp-conformance:stdio|http when missing or stale (idempotent). */
export async function ensureConformanceImages(): Promise<void> {
  await promisify(execFile)("bash", [BUILD_SCRIPT, "conformance"], { timeout: 240_000 });
}

/**
 * Starts the four services in-process (the runtime puts `labels`, e.g. berth.test=<run>, on
 * what it creates), imports the fixture's catalog entries and creates one instance per path (the
 * url instance points at the fixture already running on loopback), then waits until each is
 * RUNNING (health probes call initialize and tools/list). The images must exist (see
 * ensureConformanceImages).
 */
export async function startConformanceMesh(
  engines: MeshEngines,
  labels: string,
  fixture: FixtureProcess,
  paths: readonly BerthPath[] = BERTH_PATHS,
): Promise<ConformanceMesh> {
  let mesh: TestMesh | undefined;
  const stop = async () => {
    await mesh?.stop();
  };
  try {
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_LABELS: labels,
        RECONCILE_INTERVAL_MS: "2000",
        // The suite sends its scenarios back to back with one key on three paths at once: above
        // the default per-key rate limit (50/s), which is a product setting, not what is tested.
        RATE_LIMIT_PER_SECOND: "2000",
        RATE_LIMIT_BURST: "4000",
        // Each run opens about 30 sessions and ends none (the suite sends no DELETE): repeated
        // runs with one key would meet the per-key session cap (100) by the fourth run.
        MCP_SESSIONS_PER_KEY: "100000",
        MCP_SESSIONS_PER_INSTANCE: "100000",
      },
    });
    const authorization = `Bearer ${mesh.apiKey}`;
    const gateway = mesh.gateway.url;
    const rest = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${gateway}${path}`, {
        method,
        headers: { authorization, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const answer = (await response.json()) as Record<string, unknown>;
      if (!response.ok)
        throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
      return answer;
    };
    for (const file of ["conformance.json", "conformance-http.json"]) {
      await rest(
        "POST",
        "/v1/servers:import",
        JSON.parse(await readFile(new URL(file, CATALOG), "utf8")),
      );
    }
    const specs: Record<BerthPath, Record<string, unknown>> = {
      "stdio-container": { serverId: "io.github.berth/conformance" },
      "http-container": { serverId: "io.github.berth/conformance-http" },
      url: { jsonSpec: { type: "url", endpoint: fixture.url } },
    };
    const ids: string[] = [];
    for (const path of paths) {
      const { jsonSpec, ...server } = specs[path] as { jsonSpec?: Record<string, unknown> };
      const created = await rest("POST", "/v1/instances", {
        instance: {
          name: `conformance-${path}`,
          ...server,
          jsonSpec: { ...jsonSpec, health_check: { interval: 2, timeout: 2 } },
        },
      });
      ids.push(created.id as string);
    }
    for (const id of ids) {
      await waitFor(
        `instance ${id} RUNNING`,
        async () => {
          const status = (await rest("GET", `/v1/instances/${id}`)).status;
          if (status === "INSTANCE_STATUS_FAILED") throw new Error(`instance ${id} FAILED`);
          return status === "INSTANCE_STATUS_RUNNING" ? true : undefined;
        },
        RUNNING_MS,
      );
    }
    await rest("POST", "/v1/virtualServers", {
      name: "conformance-virtual",
      members: [{ instance: ids[0], prefix: "" }],
    });
    return {
      mesh,
      authorization,
      urlOf: (path) => `${gateway}/mcp/conformance-${path}`,
      virtualUrl: `${gateway}/mcp/v/conformance-virtual`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
