import { z } from "zod";
import { StartupError } from "../service/startup-error.js";

/** A zod object schema over environment variables (keys are the variable names). */
export type EnvSchema = z.ZodObject<z.ZodRawShape>;

/**
 * Parses configuration from environment variables. Every bad variable is named in one line,
 * with the reason but never the value (a value may be a credential).
 */
export function loadConfig<S extends EnvSchema>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "?");
    const reason = env[name] === undefined || env[name] === "" ? "is required" : issue.message;
    return `${name} ${reason}`;
  });
  throw new StartupError(`invalid configuration: ${problems.join("; ")}`);
}

/** A port number variable with a default. */
export function portVar(defaultPort: number) {
  return z.coerce
    .number()
    .int("must be an integer")
    .min(0)
    .max(65535, "must be a port (0-65535)")
    .default(defaultPort);
}

/** A boolean switch variable: true/false (or 1/0). */
export function flagVar(defaultValue: boolean) {
  return z
    .enum(["true", "false", "1", "0"], { message: "must be true or false" })
    .default(defaultValue ? "true" : "false")
    .transform((value) => value === "true" || value === "1");
}

/** A host:port address variable with a default. */
export function addressVar(defaultAddress: string) {
  return z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, "must be host:port")
    .default(defaultAddress);
}

/** A URL variable restricted to the given protocols (e.g. postgres:, nats:). */
export function urlVar(protocols: string[], defaultUrl?: string) {
  const schema = z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return protocols.includes(url.protocol) && url.hostname !== "";
      } catch {
        return false;
      }
    },
    { message: `must be a URL like ${protocols[0]}//host:port` },
  );
  return defaultUrl === undefined ? schema : schema.default(defaultUrl);
}

/**
 * One URL or a comma-separated list of them (the servers of a cluster, any of which will do),
 * each restricted to the given protocols. The value stays the string it was.
 */
export function urlListVar(protocols: string[], defaultUrl?: string) {
  const one = urlVar(protocols);
  const schema = z
    .string()
    .refine((value) => value.split(",").every((part) => one.safeParse(part.trim()).success), {
      message: `must be a URL like ${protocols[0]}//host:port, or several separated by commas`,
    });
  return defaultUrl === undefined ? schema : schema.default(defaultUrl);
}

/**
 * A service's credentials on the mesh: its certificate and key from the mesh CA (PEM text or a
 * file path each; npm start keeps them in .berth/mesh/) and its own NATS user. Required: a
 * service without them could not be told apart from a stranger on the internal ports.
 */
export const meshEnv = {
  BERTH_MESH_CA: z.string().min(1, "is required"),
  BERTH_MESH_CERT: z.string().min(1, "is required"),
  BERTH_MESH_KEY: z.string().min(1, "is required"),
  NATS_USER: z.string().min(1, "is required"),
  NATS_PASSWORD: z.string().min(1, "is required"),
};

/**
 * Where a service serves `GET /metrics` (Prometheus text format): a listener of its own, off
 * unless METRICS_PORT is set (0: a free port), on loopback unless METRICS_HOST says otherwise.
 */
export const metricsEnv = {
  METRICS_PORT: z.coerce
    .number()
    .int("must be an integer")
    .min(0)
    .max(65535, "must be a port (0-65535)")
    .optional(),
  METRICS_HOST: z.string().default("127.0.0.1"),
};

/** The variables every service reads. */
export const baseEnv = {
  ...metricsEnv,
  ...meshEnv,
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  DATABASE_URL: urlVar(["postgres:", "postgresql:"]),
  /** One NATS server, or the servers of a cluster separated by commas (the client fails over). */
  NATS_URL: urlListVar(["nats:", "tls:"], "nats://127.0.0.1:4222"),
  /**
   * How many servers keep a copy of each Berth stream and key-value bucket: 1 on a single server,
   * 3 on a three-node JetStream cluster (a stream then survives the loss of one node).
   */
  NATS_STREAM_REPLICAS: z.coerce
    .number()
    .int("must be an integer")
    .min(1, "must be 1 to 5")
    .max(5, "must be 1 to 5")
    .default(1),
  OTEL_EXPORTER_OTLP_ENDPOINT: urlVar(["http:", "https:"]).optional(),
};
