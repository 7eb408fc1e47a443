import { addressVar, baseEnv, portVar } from "@berth/platform";
import { z } from "zod";

/** The gateway's environment variables. */
export const gatewayEnv = z.object({
  LOG_LEVEL: baseEnv.LOG_LEVEL,
  NATS_URL: baseEnv.NATS_URL,
  HTTP_PORT: portVar(8080),
  HTTP_HOST: z.string().default("127.0.0.1"),
  REGISTRY_ADDR: addressVar("127.0.0.1:50051"),
  INSTANCES_ADDR: addressVar("127.0.0.1:50052"),
  RUNTIME_ADDR: addressVar("127.0.0.1:50053"),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});

/** The gateway's configuration. */
export type GatewayConfig = z.infer<typeof gatewayEnv>;
