import { z } from "zod";
import type { ParsedSpec, RuntimeSpec } from "./types.js";

const MEMORY = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes of "256m", "1g", "512Mi" or a number of bytes; undefined when unreadable. */
export function parseMemory(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  const match = MEMORY.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
}

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const seconds = (fallback: number) => z.coerce.number().positive().max(3600).default(fallback);
const health = z
  .object({ interval: seconds(30), timeout: seconds(10) })
  .default({ interval: 30, timeout: 10 })
  .transform((h) => ({ intervalMs: h.interval * 1000, timeoutMs: h.timeout * 1000 }));

const TRANSPORTS: Record<string, "stdio" | "http"> = {
  stdio: "stdio",
  transport_stdio: "stdio",
  http: "http",
  "streamable-http": "http",
  streamable_http: "http",
  streamablehttp: "http",
  transport_streamable_http: "http",
};

const docker = z.object({
  type: z.literal("docker"),
  image: z.string({ error: "is required" }).min(1, "is required"),
  transport: z
    .string()
    .default("stdio")
    .refine((t) => t.toLowerCase() in TRANSPORTS, "must be stdio or http (streamable HTTP)")
    .transform((t) => TRANSPORTS[t.toLowerCase()]!),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  path: z.string().startsWith("/", "must start with /").default("/mcp"),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), scalar).default({}),
  resources: z
    .object({
      memory_limit: z
        .union([z.string(), z.number()])
        .transform((v, ctx) => {
          const bytes = parseMemory(v);
          if (bytes === undefined) ctx.addIssue("must be like 256m or 1g");
          return bytes ?? 0;
        })
        .default(512 * 1024 ** 2),
      cpu_limit: z.coerce.number().positive().max(64).default(1),
      pids_limit: z.coerce.number().int().min(16).max(32768).default(256),
    })
    .default({ memory_limit: 512 * 1024 ** 2, cpu_limit: 1, pids_limit: 256 })
    .transform((r) => ({
      memoryBytes: r.memory_limit,
      nanoCpus: Math.round(r.cpu_limit * 1e9),
      pidsLimit: r.pids_limit,
    })),
  user: z.string().min(1).optional(),
  health_check: health,
});

const url = z.object({
  type: z.literal("url"),
  endpoint: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  headers: z.record(z.string(), scalar).default({}),
  authentication: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("bearer"), token: z.string().min(1, "is required") }),
      z.object({ type: z.literal("none") }),
    ])
    .optional(),
  health_check: health,
});

const spec = z.discriminatedUnion("type", [docker, url], {
  error: "must be docker or url",
});

/** Reads an instance's json_spec (JSON form); problems are named as json_spec.<field>. */
export function parseSpec(json: unknown): ParsedSpec {
  const result = spec.safeParse(json ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = ["json_spec", ...issue.path.map(String)].join(".");
      return `${path} ${issue.message}`;
    });
    return { ok: false, message: `invalid json_spec: ${problems.join("; ")}` };
  }
  const value = result.data;
  const parsed: RuntimeSpec =
    value.type === "docker"
      ? {
          type: "docker",
          image: value.image,
          transport: value.transport,
          port: value.port,
          path: value.path,
          command: value.command,
          args: value.args,
          environment: value.environment,
          resources: value.resources,
          user: value.user,
          health: value.health_check,
        }
      : {
          type: "url",
          endpoint: value.endpoint,
          headers: value.headers,
          bearerToken:
            value.authentication?.type === "bearer" ? value.authentication.token : undefined,
          health: value.health_check,
        };
  return { ok: true, spec: parsed };
}
