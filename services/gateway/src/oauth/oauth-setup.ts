import { readFileSync } from "node:fs";
import { Code, ConnectError, type Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { createRateLimiter } from "../auth/rate-limiter.js";
import type { Authenticator, Gatekeeper } from "../auth/types.js";
import type { GatewayConfig } from "../config.js";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import type { Role } from "../teams/roles.js";
import type { UserStore } from "../users/user-store.js";
import { createBearerAuthenticator } from "./bearer-authenticator.js";
import { withOAuthChallenges } from "./challenges.js";
import {
  EMBEDDED_DISCOVERY_ALIASES,
  EMBEDDED_MOUNT,
  type EmbeddedAuthorizationServer,
  startEmbeddedAuthorizationServer,
} from "./embedded/authorization-server.js";
import { derivedKeyRing } from "./embedded/issuer-keys.js";
import type { ExchangeClient } from "./embedded/token-exchange-grant.js";
import { createExternalIssuer, parseExternalIssuers } from "./external-issuers.js";
import { createProtectedResourceRoutes } from "./protected-resource-routes.js";
import { createResourceUrls, RESOURCE_METADATA_PATH, type ResourceUrls } from "./resource-urls.js";
import { createSubjectRecorder } from "./subjects.js";
import { actorIdOf, createTokenVerifier } from "./token-verifier.js";
import type { TrustedIssuer } from "./trusted-issuer.js";

/** Options of createOAuth. */
export interface OAuthOptions {
  config: GatewayConfig;
  orm: MikroORM;
  users: UserStore;
  /** The teams of a user of the embedded server, and their role in each. */
  memberships(userId: string): Promise<ReadonlyMap<string, Role>>;
  logger: Logger;
}

/** The gateway's OAuth parts: the resource server around the key gatekeeper, and the embedded AS. */
export interface OAuth {
  /** API keys and access tokens side by side. */
  authenticator(keys: Authenticator): Authenticator;
  /** The gatekeeper's refusals with the MCP authorization specification's challenges. */
  withChallenges(gatekeeper: Gatekeeper): Gatekeeper;
  /** Front door rows: protected resource metadata, and the embedded server when enabled. */
  routes: Array<{
    name: string;
    methods?: string[];
    paths: string[];
    prefixes: string[];
    handle: (req: HttpRequest, res: HttpResponse) => void;
  }>;
  /** Called once the port is bound: the public URL is known from here on. */
  listening(port: number): Promise<void>;
  /** A user was deleted: their tokens are refused from now on. */
  userRemoved(id: string): void;
  /** The gateway's public base URL; throws UNAVAILABLE before the port is bound. */
  publicUrl(): string;
  /**
   * The gateway's own confidential client at a trusted issuer, for token exchange: the embedded
   * server's built-in one, or BERTH_OAUTH_ISSUERS[].tokenExchange; undefined when it has none.
   */
  tokenExchangeClient(issuer: string): ExchangeClient | undefined;
  /** The actor id of an embedded user (the embedded issuer and the user's id as subject). */
  embeddedActorOf(userId: string): string | undefined;
  close(): void;
}

/** The default public URL of a gateway bound to host:port. */
export function defaultPublicUrl(host: string, port: number): string {
  const name = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}

function notReady(res: HttpResponse): void {
  res.statusCode = 503;
  res.setHeader("retry-after", "1");
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ error: { code: 503, status: "UNAVAILABLE", message: "starting" } }));
}

/**
 * Puts the OAuth parts together from configuration: the external issuers of BERTH_OAUTH_ISSUERS
 * (found by discovery), the embedded authorization server (BERTH_OAUTH_EMBEDDED), and the
 * resource names from BERTH_PUBLIC_URL, or from the bound port when none is configured.
 */
export function createOAuth(options: OAuthOptions): OAuth {
  const { config, orm, users, logger } = options;
  const configured = parseExternalIssuers(config.BERTH_OAUTH_ISSUERS);
  const external = configured.map((issuer) => createExternalIssuer(issuer, logger));
  let urls: ResourceUrls | undefined = config.BERTH_PUBLIC_URL
    ? createResourceUrls(config.BERTH_PUBLIC_URL)
    : undefined;
  let embedded: EmbeddedAuthorizationServer | undefined;
  // The embedded server's users belong to the teams stored for them.
  let embeddedTrusted: TrustedIssuer | undefined;
  const currentUrls = () => {
    if (!urls) throw new ConnectError("the gateway is starting", Code.Unavailable);
    return urls;
  };
  const issuers = (): TrustedIssuer[] => [
    ...external,
    ...(embeddedTrusted ? [embeddedTrusted] : []),
  ];
  const verifier = createTokenVerifier({ issuers, urls: currentUrls });
  const recordSubject = createSubjectRecorder(orm, logger);
  const metadata = createProtectedResourceRoutes({
    urls: currentUrls,
    // An operator's identity provider first: clients take the first one listed.
    authorizationServers: () => issuers().map((issuer) => issuer.issuer),
  });
  const routes: OAuth["routes"] = [
    {
      name: "oauth-resource-metadata",
      methods: ["GET", "HEAD"],
      paths: [RESOURCE_METADATA_PATH],
      prefixes: [`${RESOURCE_METADATA_PATH}/`],
      handle: (req, res) => (urls ? metadata(req, res) : notReady(res)),
    },
  ];
  if (config.BERTH_OAUTH_EMBEDDED) {
    routes.push({
      name: "oauth-server",
      paths: EMBEDDED_DISCOVERY_ALIASES,
      prefixes: [`${EMBEDDED_MOUNT}/`],
      handle: (req, res) => (embedded ? embedded.handle(req, res) : notReady(res)),
    });
  }
  return {
    authenticator: (keys) =>
      createBearerAuthenticator({ keys, tokens: verifier, onSubject: recordSubject }),
    withChallenges: (gatekeeper) => withOAuthChallenges(gatekeeper, currentUrls),
    routes,
    async listening(port) {
      urls ??= createResourceUrls(defaultPublicUrl(config.HTTP_HOST, port));
      if (config.BERTH_OAUTH_EMBEDDED) {
        const testCaFile = config.BERTH_OAUTH_CIMD_TEST_CA_FILE;
        if (testCaFile) {
          logger.warn(
            { file: testCaFile },
            "BERTH_OAUTH_CIMD_TEST_CA_FILE is set: client metadata documents may be fetched from loopback hosts (for tests only)",
          );
        }
        embedded = await startEmbeddedAuthorizationServer({
          orm,
          users,
          urls,
          accessTokenTtlSeconds: config.BERTH_OAUTH_ACCESS_TOKEN_TTL_SECONDS,
          userCacheMs: config.API_KEY_CACHE_MS,
          signInFailures: {
            limiter: createRateLimiter(),
            perSecond: config.AUTH_FAILURES_PER_MINUTE / 60,
            burst: config.AUTH_FAILURE_BURST,
          },
          keyRing: config.BERTH_OAUTH_KEY_ENCRYPTION_KEYS ?? derivedKeyRing(config.NATS_PASSWORD),
          clientMetadataDocuments: {
            enabled: config.BERTH_OAUTH_CLIENT_METADATA_DOCUMENTS,
            ...(testCaFile ? { testCa: readFileSync(testCaFile, "utf8") } : {}),
          },
          logger,
        });
        embeddedTrusted = {
          ...embedded.trusted,
          teamsOf: (claims) => options.memberships(claims.sub ?? ""),
        };
      }
    },
    userRemoved: (id) => embedded?.userRemoved(id),
    publicUrl: () => currentUrls().base,
    tokenExchangeClient(issuer) {
      if (embedded && issuer === embedded.issuer) return embedded.exchangeClient;
      return configured.find((entry) => entry.issuer === issuer)?.tokenExchange;
    },
    embeddedActorOf: (userId) => (embedded ? actorIdOf(embedded.issuer, userId) : undefined),
    close: () => embedded?.close(),
  };
}
