import { addressVar, baseEnv, flagVar, keyRingVar, portVar } from "@berth/platform";
import { parseImagePatterns } from "@berth/spec";
import { z } from "zod";

/** The instances service's environment variables. */
export const instancesEnv = z.object({
  ...baseEnv,
  GRPC_PORT: portVar(50052),
  REGISTRY_ADDR: addressVar("127.0.0.1:50051"),
  /** The key ring that seals instance secrets (the first key seals, every key opens). */
  BERTH_SECRET_KEYS: keyRingVar(),
  /** url endpoints on loopback (127.0.0.0/8, ::1, localhost): one-machine meshes need them. */
  BERTH_ALLOW_LOOPBACK_ENDPOINTS: flagVar(true),
  /** url endpoints on private, link-local and cloud metadata addresses: refused unless set. */
  BERTH_ALLOW_PRIVATE_ENDPOINTS: flagVar(false),
  /** Images docker instances may run besides their catalog entry's: comma-separated, `*` wildcards. */
  BERTH_ALLOWED_IMAGES: z.string().default("").transform(parseImagePatterns),
  /** Docker instances may set `user` to root (0, root): refused unless set. */
  BERTH_ALLOW_ROOT_USER: flagVar(false),
});

/** The instances service's configuration. */
export type InstancesConfig = z.infer<typeof instancesEnv>;
