import { fileURLToPath } from "node:url";
import { baseEnv, portVar } from "@berth/platform";
import { z } from "zod";

/** The bundled catalog: `catalog/` at the repository root. */
export const STARTER_CATALOG_DIR = fileURLToPath(new URL("../../../catalog/", import.meta.url));

/** The registry's environment variables. */
export const registryEnv = z.object({
  ...baseEnv,
  GRPC_PORT: portVar(50051),
  /** Load the bundled server.json files into an empty catalog on start. */
  REGISTRY_LOAD_CATALOG: z
    .enum(["true", "false", "1", "0"], "must be true or false")
    .default("true")
    .transform((value) => value === "true" || value === "1"),
  /** Where the starter catalog's server.json files are. */
  REGISTRY_CATALOG_DIR: z.string().min(1).default(STARTER_CATALOG_DIR),
});

/** The registry's configuration. */
export type RegistryConfig = z.infer<typeof registryEnv>;
