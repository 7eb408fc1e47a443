import {
  addressVar,
  baseEnv,
  flagVar,
  keyRingVar,
  meshEnv,
  metricsEnv,
  portVar,
  urlVar,
} from "@berth/platform";
import { z } from "zod";
import { API_KEY_PATTERN } from "./api-keys/key-format.js";

const positive = (fallback: number) => z.coerce.number().positive().default(fallback);

/** The gateway's environment variables. */
export const gatewayEnv = z.object({
  /** The gateway's mesh certificate (its identity towards the services) and NATS user. */
  ...meshEnv,
  LOG_LEVEL: baseEnv.LOG_LEVEL,
  DATABASE_URL: baseEnv.DATABASE_URL,
  NATS_URL: baseEnv.NATS_URL,
  NATS_STREAM_REPLICAS: baseEnv.NATS_STREAM_REPLICAS,
  /** A second, key-less /metrics listener (loopback by default); GET /metrics on HTTP_PORT needs a key. */
  ...metricsEnv,
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
  /** The first admin key, used instead of a generated one when the key table is empty. */
  BERTH_BOOTSTRAP_API_KEY: z
    .string()
    .regex(API_KEY_PATTERN, "must look like berth_<16 hex digits>_<32 to 128 of A-Z a-z 0-9 _ ->")
    .or(z.literal(""))
    .optional(),
  /** Default per-key rate limit: requests per second on average, and the burst. */
  RATE_LIMIT_PER_SECOND: positive(50),
  RATE_LIMIT_BURST: z.coerce.number().int().positive().default(100),
  /**
   * Rate limits are shared by every gateway replica through NATS; when NATS does not answer
   * within this many milliseconds (or is disconnected), each replica limits on its own for a
   * few seconds.
   */
  RATE_LIMIT_STORE_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  /** Origins browsers may call from (comma-separated, or *); none by default. */
  CORS_ORIGINS: z.string().default(""),
  /** How long verified keys and instance endpoints are reused without asking again. */
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(10_000),
  MCP_RESOLVE_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** How often MCP traffic is reported to the runtime (the idle policy's clock). */
  MCP_ACTIVITY_INTERVAL_MS: z.coerce.number().int().min(100).default(1_000),
  /** The longest an MCP request waits for an idle instance to wake before 503 + Retry-After. */
  MCP_WAKE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /**
   * Reach the runtimes' stdio bridges over one long-lived channel each (on: the default), or with
   * an HTTP request per exchange (off: what the bench compares the channel with).
   */
  MCP_BRIDGE_CHANNEL: flagVar(true),
  /** Circuit breaker on url instances: failures in a row that open it, and how long it stays open. */
  MCP_BREAKER_FAILURES: z.coerce.number().int().positive().default(5),
  MCP_BREAKER_OPEN_MS: z.coerce.number().int().positive().default(5_000),
  /** Each failed probe doubles the open time, up to this. */
  MCP_BREAKER_MAX_OPEN_MS: z.coerce.number().int().positive().default(60_000),
  /** Connection limits: slow or idle clients cannot hold the gateway's sockets. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  HTTP2_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  MAX_CONNECTIONS: z.coerce.number().int().positive().default(4_096),
  /**
   * Origins browsers may call /mcp from (comma-separated), besides loopback origins and
   * CORS_ORIGINS; requests without Origin (non-browser clients) are always allowed.
   */
  MCP_ALLOWED_ORIGINS: z.string().default(""),
  /** Host names /mcp may be addressed as when the gateway listens on loopback (comma-separated). */
  MCP_ALLOWED_HOSTS: z.string().default(""),
  /** Most live MCP sessions per API key, and per instance (429 beyond). */
  MCP_SESSIONS_PER_KEY: z.coerce.number().int().positive().default(100),
  MCP_SESSIONS_PER_INSTANCE: z.coerce.number().int().positive().default(1_000),
  /** Most open server streams (:watch, logs) per API key (429 beyond). */
  WATCH_STREAMS_PER_KEY: z.coerce.number().int().positive().default(20),
  /** Failed authentications allowed per client address: a burst, refilled per minute (429 beyond). */
  AUTH_FAILURE_BURST: z.coerce.number().int().positive().default(20),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /**
   * The instances service's endpoint policy, applied again when the proxy dials a url instance by
   * name: the address checked is the address dialled, so a DNS answer that changed after
   * validation (rebinding) cannot point the proxy, and the instance's credential, inside.
   */
  BERTH_ALLOW_LOOPBACK_ENDPOINTS: flagVar(true),
  BERTH_ALLOW_PRIVATE_ENDPOINTS: flagVar(false),
  /** Audit records older than this many days are deleted (0: kept forever). */
  BERTH_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).default(90),
  /**
   * The gateway's public base URL (scheme, host, port): OAuth resource names, token audiences and
   * the embedded issuer derive from it. Default: http://HTTP_HOST:port (127.0.0.1 for a wildcard host).
   */
  BERTH_PUBLIC_URL: urlVar(["http:", "https:"]).optional(),
  /** The embedded OAuth authorization server at {BERTH_PUBLIC_URL}/oauth (users made by an admin). */
  BERTH_OAUTH_EMBEDDED: flagVar(true),
  /**
   * External OpenID Connect / OAuth issuers whose access tokens are accepted, as a JSON array:
   * [{"issuer":"https://idp/realms/x","audience":"berth","scopes":{"mcp:use":"mcp"},
   *   "groupsClaim":"groups","groups":{"berth-admins":["admin"]}}]. Found by discovery.
   */
  BERTH_OAUTH_ISSUERS: z.string().default(""),
  /**
   * The key ring (`k1:<base64 of 32 bytes>`, first key seals, every key opens) that seals the
   * embedded server's signing and cookie keys at rest (AES-256-GCM). Unset: one key derived from
   * the gateway's NATS password. `npm start` makes one and keeps it in .berth/credentials.env.
   */
  BERTH_OAUTH_KEY_ENCRYPTION_KEYS: z
    .literal("")
    .transform(() => undefined)
    .or(keyRingVar())
    .optional(),
  /** Client ID Metadata Documents: clients may use an https URL of their metadata as client_id. */
  BERTH_OAUTH_CLIENT_METADATA_DOCUMENTS: flagVar(true),
  /**
   * TESTING ONLY: a PEM file of a CA. Set, metadata documents may also be fetched from loopback
   * hosts, over TLS certificates this CA signed; unset (always in production), only public
   * addresses with publicly trusted certificates are fetched.
   */
  BERTH_OAUTH_CIMD_TEST_CA_FILE: z.string().optional(),
  /** Lifetime of the embedded server's access tokens, in seconds. */
  BERTH_OAUTH_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
  /**
   * Delegated credentials: a user's upstream access token is refreshed when less than this many
   * seconds are left of it.
   */
  BERTH_DELEGATION_REFRESH_SECONDS: z.coerce.number().int().min(0).default(60),
  /** How often old audit records are looked for. */
  BERTH_AUDIT_RETENTION_INTERVAL_MS: z.coerce.number().int().positive().default(3_600_000),
});

/** The gateway's configuration. */
export type GatewayConfig = z.infer<typeof gatewayEnv>;
