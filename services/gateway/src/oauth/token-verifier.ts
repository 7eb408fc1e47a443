import { createHash } from "node:crypto";
import { Code, ConnectError } from "@berth/platform";
import { decodeJwt, errors, jwtVerify } from "jose";
import type { Scope } from "../auth/scopes.js";
import type { Role } from "../teams/roles.js";
import type { ResourceUrls } from "./resource-urls.js";
import type { TrustedIssuer } from "./trusted-issuer.js";

/** Who a verified access token speaks for. */
export interface TokenIdentity {
  issuer: string;
  subject: string;
  /** A readable name of the subject (user name, e-mail), for the audit trail. */
  name: string;
  /** A stable id of the subject, in the place of an API key id (rate limits, sessions, actor). */
  actorId: string;
  scopes: Scope[];
  /** The subject's teams and role in each. */
  teams: ReadonlyMap<string, Role>;
  expireTime: Date | null;
}

/** Options of createTokenVerifier. */
export interface TokenVerifierOptions {
  /** The trusted issuers (embedded and external), looked up by the token's iss. */
  issuers: () => readonly TrustedIssuer[];
  urls: () => ResourceUrls;
  /** Clock skew allowed on exp and nbf, in seconds. */
  clockToleranceSeconds?: number;
}

/** Verifies bearer JWT access tokens for the resource a request addresses. */
export type TokenVerifier = (
  token: string,
  resourcePath: string | undefined,
) => Promise<TokenIdentity>;

const ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/** Whether a bearer credential has the shape of a JWT (three base64url parts). */
export function looksLikeJwt(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(credential);
}

/** The actor id of a token subject: `oauth_` and 16 hex digits of a hash of issuer and subject. */
export function actorIdOf(issuer: string, subject: string): string {
  return `oauth_${createHash("sha256").update(`${issuer}\n${subject}`).digest("hex").slice(0, 16)}`;
}

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/**
 * Checks a token's signature against its issuer's keys, the issuer itself (only configured ones),
 * its expiry, and its audience (RFC 8707): a token is taken only by the resource it was minted
 * for: the MCP endpoint addressed, or the gateway as a whole, or an audience configured for its
 * issuer. A token for another endpoint is refused even when everything else is right.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const tolerance = options.clockToleranceSeconds ?? 30;
  return async (token, resourcePath) => {
    let issuerName: string | undefined;
    try {
      issuerName = decodeJwt(token).iss;
    } catch {
      throw unauthenticated("the access token is not a valid JWT");
    }
    const trusted = options.issuers().find((candidate) => candidate.issuer === issuerName);
    if (!trusted) throw unauthenticated("the access token is from an unknown issuer");
    const urls = options.urls();
    const audiences = [urls.resourceOf(resourcePath), urls.base, ...trusted.audiences];
    let claims: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      const keys = await trusted.keys();
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: trusted.issuer,
        audience: [...new Set([...audiences, ...audiences.map((a) => `${a}/`)])],
        algorithms: ALGORITHMS,
        clockTolerance: tolerance,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      throw tokenError(error);
    }
    await trusted.check?.(claims);
    const subject = claims.sub as string;
    return {
      issuer: trusted.issuer,
      subject,
      name: trusted.nameOf(claims),
      actorId: actorIdOf(trusted.issuer, subject),
      scopes: trusted.scopesOf(claims),
      teams: trusted.teamsOf ? await trusted.teamsOf(claims) : new Map(),
      expireTime: typeof claims.exp === "number" ? new Date(claims.exp * 1000) : null,
    };
  };
}

/** A jose failure as the caller's error; an issuer that cannot be reached is 503, not 401. */
function tokenError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof errors.JWTExpired) return unauthenticated("the access token has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud") {
      return unauthenticated("the access token was issued for another resource (audience)");
    }
    return unauthenticated(`the access token's ${error.claim} claim is not valid`);
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new ConnectError("the token issuer's keys cannot be read", Code.Unavailable);
  }
  if (error instanceof errors.JOSEError) {
    return unauthenticated("the access token's signature or format is not valid");
  }
  if (error instanceof TypeError || (error as { code?: string }).code === "ECONNREFUSED") {
    return new ConnectError("the token issuer cannot be reached", Code.Unavailable);
  }
  return unauthenticated("the access token is not valid");
}
