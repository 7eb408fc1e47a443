import type { MeshIdentity } from "@berth/platform";
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

/** A further readiness check (NATS, the database), bounded by the caller. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/** Resolves false when the check fails or takes longer than the bound. */
function bounded(check: () => Promise<boolean>, ms = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([check().catch(() => false), timeout]).finally(() => clearTimeout(timer));
}

/**
 * GET /healthz answers while the process is alive; GET /readyz only when every upstream service
 * says SERVING over grpc.health.v1 and every further check (NATS, the database) passes.
 */
export function createHealthRoutes(
  upstreams: Array<{ service: DescService; address: string }>,
  checks: ReadinessCheck[],
  identity: MeshIdentity,
): (req: AnyRequest, res: AnyResponse) => void {
  // The services answer health checks over mutual TLS only, like every other call.
  const tls = credentials.createSsl(
    Buffer.from(identity.ca),
    Buffer.from(identity.key),
    Buffer.from(identity.cert),
  );
  const clients = [
    ...upstreams.map(({ service, address }) => {
      const client = new HealthClient(address, tls);
      return { name: service.typeName, check: () => check(client, service.typeName) };
    }),
    ...checks,
  ];
  return (req, res) => {
    if ((req.url ?? "").split("?")[0] === "/healthz") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    Promise.all(clients.map(async ({ name, check }) => [name, await bounded(check)] as const)).then(
      (results) => {
        const ready = results.every(([, ok]) => ok);
        sendJson(res, ready ? 200 : 503, {
          status: ready ? "ready" : "not ready",
          services: Object.fromEntries(
            results.map(([name, ok]) => [name, ok ? "SERVING" : "NOT_SERVING"]),
          ),
        });
      },
    );
  };
}
