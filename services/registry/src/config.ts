import { baseEnv, portVar } from "@berth/platform";
import { z } from "zod";

/** The registry's environment variables. */
export const registryEnv = z.object({ ...baseEnv, GRPC_PORT: portVar(50051) });

/** The registry's configuration. */
export type RegistryConfig = z.infer<typeof registryEnv>;
