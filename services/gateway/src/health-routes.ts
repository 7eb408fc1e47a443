import type { DescService } from "@bufbuild/protobuf";
import { type Client, credentials, makeClientConstructor } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import type { AnyRequest, AnyResponse } from "./observe-request.js";

const HealthClient = makeClientConstructor(healthService, "grpc.health.v1.Health");
type HealthCheck = (
  request: { service: string },
  options: { deadline: number },
  callback: (error: Error | null, response?: { status: string | number }) => void,
) => void;

/** Asks a service's grpc.health.v1 whether it is SERVING, within a bound. */
function check(client: Client, service: string): Promise<boolean> {
  return new Promise((resolve) => {
    (client as unknown as { check: HealthCheck }).check(
      { service },
      { deadline: Date.now() + 2_000 },
      (error, response) =>
        resolve(!error && (response?.status === "SERVING" || response?.status === 1)),
    );
  });
}

function sendJson(res: AnyResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

/**
 * /healthz answers while the process is alive; /readyz only when every upstream service says
 * SERVING over grpc.health.v1. Returns true when it handled the request.
 */
export function createHealthRoutes(
  upstreams: Array<{ service: DescService; address: string }>,
): (req: AnyRequest, res: AnyResponse) => boolean {
  const clients = upstreams.map(({ service, address }) => ({
    name: service.typeName,
    client: new HealthClient(address, credentials.createInsecure()),
  }));
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || (path !== "/healthz" && path !== "/readyz")) return false;
    if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" });
      return true;
    }
    Promise.all(
      clients.map(async ({ name, client }) => [name, await check(client, name)] as const),
    ).then((results) => {
      const ready = results.every(([, ok]) => ok);
      sendJson(res, ready ? 200 : 503, {
        status: ready ? "ready" : "not ready",
        services: Object.fromEntries(
          results.map(([name, ok]) => [name, ok ? "SERVING" : "NOT_SERVING"]),
        ),
      });
    });
    return true;
  };
}
