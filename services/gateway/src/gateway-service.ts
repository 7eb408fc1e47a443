import { createCloser, createLogger, createServiceClient, type Logger } from "@berth/platform";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { GatewayConfig } from "./config.js";
import { createForwardingImpl } from "./forwarding-impl.js";
import { createHealthRoutes } from "./health-routes.js";
import { createOnePortServer, createRestHandler } from "./http/index.js";
import { observeRequests } from "./observe-request.js";

/** A running gateway. */
export interface Gateway {
  /** The bound HTTP port. */
  port: number;
  /** Base URL clients point at. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the gateway: one port serving REST/JSON (transcoded from google.api.http), Connect,
 * gRPC-Web and gRPC, forwarding every public method to its service over gRPC.
 */
export async function startGateway(config: GatewayConfig, logger?: Logger): Promise<Gateway> {
  const log = logger ?? createLogger({ service: "gateway", level: config.LOG_LEVEL });
  const closer = createCloser((name, error) => log.warn({ err: error }, `closing ${name} failed`));
  const upstreams: Array<{ service: DescService; address: string }> = [
    { service: RegistryService, address: config.REGISTRY_ADDR },
    { service: InstancesService, address: config.INSTANCES_ADDR },
    { service: RuntimeService, address: config.RUNTIME_ADDR },
  ];
  const services = upstreams.map(({ service, address }) => ({
    service,
    impl: createForwardingImpl(service, createServiceClient(service, address)),
  }));
  const server = createOnePortServer({
    logger: log,
    routes: (router: ConnectRouter) => {
      for (const { service, impl } of services) router.service(service, impl as never);
    },
    rest: createRestHandler({ services, logger: log, maxBodyBytes: config.MAX_BODY_BYTES }),
    extra: createHealthRoutes(upstreams),
    wrap: (handle) => observeRequests(log, handle),
  });
  const port = await server.listen(config.HTTP_PORT, config.HTTP_HOST);
  closer.add("http server", () => server.close());
  const url = `http://${config.HTTP_HOST}:${port}`;
  log.info({ url }, "gateway listening");
  return { port, url, stop: () => closer.closeAll() };
}
