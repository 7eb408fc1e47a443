import { Code, ConnectError, type Logger } from "@berth/platform";
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import {
  type ClaimMapping,
  mapScopes,
  mapTeams,
  nameOf,
  type TrustedIssuer,
} from "./trusted-issuer.js";

const issuerSchema = z.object({
  issuer: z.url({ protocol: /^https?$/ }),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
  scopeClaim: z.string().optional(),
  scopes: z.record(z.string(), z.string()).optional(),
  groupsClaim: z.string().optional(),
  groups: z.record(z.string(), z.array(z.string())).optional(),
  teams: z
    .record(z.string(), z.record(z.string(), z.enum(["viewer", "agent", "editor", "admin"])))
    .optional(),
  nameClaim: z.string().optional(),
  // The gateway's confidential client at this issuer for token exchange (RFC 8693): url
  // instances with json_spec.delegation type token_exchange exchange users' tokens as it.
  tokenExchange: z
    .object({ clientId: z.string().min(1), clientSecret: z.string().min(1) })
    .optional(),
});

/** One external issuer as configured (BERTH_OAUTH_ISSUERS, a JSON array of these). */
export type ExternalIssuerConfig = z.infer<typeof issuerSchema>;

/** The external issuers in BERTH_OAUTH_ISSUERS; throws naming the entry and field that is wrong. */
export function parseExternalIssuers(json: string): ExternalIssuerConfig[] {
  if (json.trim() === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error("BERTH_OAUTH_ISSUERS must be a JSON array of issuers");
  }
  const parsed = z.array(issuerSchema).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `BERTH_OAUTH_ISSUERS[${issue?.path.join(".")}]: ${issue?.message ?? "not valid"}`,
    );
  }
  return parsed.data;
}

const DISCOVERY_TIMEOUT_MS = 5_000;
// After a failed discovery, the next token asks again no sooner than this.
const RETRY_MS = 5_000;

/**
 * An external issuer found by discovery (OpenID Connect Discovery, then RFC 8414): its metadata
 * names its JWKS, which is fetched and cached by jose. Discovery happens on first use and again
 * after a failure, so a gateway starts while its identity provider is down and tokens are
 * answered 503 (not 401) until the provider answers.
 */
export function createExternalIssuer(config: ExternalIssuerConfig, logger: Logger): TrustedIssuer {
  const issuer = config.issuer;
  const mapping: ClaimMapping = config;
  let keys: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = 0;
  const discover = async (): Promise<JWTVerifyGetKey> => {
    const metadata = await discoverMetadata(issuer);
    if (metadata.issuer !== issuer) {
      throw new Error(`discovery of ${issuer} answered issuer ${String(metadata.issuer)}`);
    }
    if (typeof metadata.jwks_uri !== "string") throw new Error(`${issuer} names no jwks_uri`);
    return createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: DISCOVERY_TIMEOUT_MS,
    });
  };
  return {
    issuer,
    audiences: config.audience === undefined ? [] : [config.audience].flat(),
    async keys() {
      if (!keys && Date.now() - failedAt < RETRY_MS) throw unreachable(issuer);
      keys ??= discover().catch((error: unknown) => {
        keys = undefined;
        failedAt = Date.now();
        logger.warn({ err: error, issuer }, "OAuth issuer discovery failed");
        throw unreachable(issuer);
      });
      return keys;
    },
    scopesOf: (claims) => mapScopes(claims, mapping),
    teamsOf: async (claims) => mapTeams(claims, mapping),
    nameOf: (claims) => nameOf(claims, config.nameClaim),
  };
}

function unreachable(issuer: string): ConnectError {
  return new ConnectError(`the token issuer ${issuer} cannot be reached`, Code.Unavailable);
}

/** Discovery documents tried in order: OIDC's, then RFC 8414's path-inserted one. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, "");
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

async function discoverMetadata(issuer: string): Promise<Record<string, unknown>> {
  let last: unknown;
  for (const url of discoveryUrls(issuer)) {
    try {
      const response = await fetch(url, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
      });
      if (response.ok) return (await response.json()) as Record<string, unknown>;
      last = new Error(`${url} answered ${response.status}`);
    } catch (error) {
      last = error;
    }
  }
  throw last;
}
