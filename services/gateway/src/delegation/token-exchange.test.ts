import { Writable } from "node:stream";
import { createLogger } from "@berth/platform";
import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/types.js";
import { McpProxyError } from "../mcp/types.js";
import { TOKEN_EXCHANGE_GRANT } from "../oauth/embedded/token-exchange-grant.js";
import { rememberSubjectToken } from "../oauth/subject-tokens.js";
import { createTokenExchanger, type InstanceExchange } from "./token-exchange.js";

const ISSUER = "https://idp.example.com";
const SUBJECT = "header.subject-token-of-alice.signature";

const person = (issuer = ISSUER, token: string | undefined = SUBJECT): Principal => {
  const principal: Principal = {
    keyId: "oauth_alice",
    user: { issuer, subject: "alice", name: "alice" },
    scopes: ["mcp"],
    teams: new Map(),
    instances: [],
    virtualServers: [],
    rateLimitPerSecond: 0,
    rateLimitBurst: 0,
    expireTime: null,
  };
  if (token) rememberSubjectToken(principal, token);
  return principal;
};
const apiKey: Principal = { ...person(), keyId: "k1", user: undefined } as Principal;
const instance: InstanceExchange = {
  id: "i1",
  name: "reports",
  endpoint: "https://mcp.reports.example/mcp",
  exchange: { type: "token_exchange", scopes: ["read"] },
};

/**
 * The issuer as the exchanger sees it over fetch (pure logic under test: what is sent, how
 * answers map to errors, the cache). `token` answers the token endpoint.
 */
function issuerFake(
  token: (form: URLSearchParams, headers: Headers) => Response | Promise<Response>,
) {
  const requests: Array<{ form: URLSearchParams; headers: Headers }> = [];
  const fetchFn = async (input: string | URL, init?: RequestInit) => {
    const url = String(input);
    if (url === `${ISSUER}/.well-known/openid-configuration`) {
      return Response.json({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/token`,
        grant_types_supported: ["authorization_code", TOKEN_EXCHANGE_GRANT],
      });
    }
    if (url === `${ISSUER}/token`) {
      const form = new URLSearchParams(String(init?.body));
      const headers = new Headers(init?.headers);
      requests.push({ form, headers });
      return token(form, headers);
    }
    return new Response("", { status: 404 });
  };
  return { fetchFn, requests };
}

const logged: string[] = [];
const logger = createLogger({
  service: "test",
  level: "debug",
  destination: new Writable({
    write(chunk, _e, done) {
      logged.push(chunk.toString());
      done();
    },
  }),
});

const exchangerWith = (fetchFn: ReturnType<typeof issuerFake>["fetchFn"], clock = { now: 0 }) =>
  createTokenExchanger({
    clientFor: (issuer) =>
      issuer === ISSUER ? { clientId: "berth gw", clientSecret: "s3cret:value" } : undefined,
    renewBeforeMs: 60_000,
    fetch: fetchFn,
    logger,
    now: () => clock.now,
  });

const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(McpProxyError);
    return error as McpProxyError;
  }
  throw new Error("expected a refusal");
};

describe("token exchanger", () => {
  it("sends the caller's token, the resource and scopes as its client; caches per user and instance, one flight at a time", async () => {
    const clock = { now: 1_000_000 };
    const fake = issuerFake(() =>
      Response.json({
        access_token: `minted-${fake.requests.length}`,
        token_type: "Bearer",
        expires_in: 120,
      }),
    );
    const exchanger = exchangerWith(fake.fetchFn, clock);
    const alice = person();
    const tokens = await Promise.all([1, 2, 3].map(() => exchanger.tokenFor(alice, instance)));
    expect(tokens).toEqual(["minted-1", "minted-1", "minted-1"]);
    expect(fake.requests).toHaveLength(1);
    const { form, headers } = fake.requests[0]!;
    expect(Object.fromEntries(form)).toEqual({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: SUBJECT,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      resource: instance.endpoint,
      scope: "read",
    });
    // client_secret_basic, both parts form-encoded first (RFC 6749 section 2.3.1).
    expect(headers.get("authorization")).toBe(
      `Basic ${Buffer.from("berth+gw:s3cret%3Avalue").toString("base64")}`,
    );
    // Cached until renewBeforeMs before expiry, then exchanged again.
    clock.now += 59_000;
    expect(await exchanger.tokenFor(alice, instance)).toBe("minted-1");
    clock.now += 2_000;
    expect(await exchanger.tokenFor(alice, instance)).toBe("minted-2");
    expect(exchanger.forget((id) => id === "i1")).toBe(1);
    expect(await exchanger.tokenFor(alice, instance)).toBe("minted-3");
    expect(logged.join("")).not.toContain(SUBJECT);
    expect(logged.join("")).not.toContain("minted-");
  });

  it("refuses an API key, and a caller of another issuer than the instance's, without calling anyone", async () => {
    const fake = issuerFake(() => new Response("", { status: 500 }));
    const exchanger = exchangerWith(fake.fetchFn);
    const keyed = await refusal(exchanger.tokenFor(apiKey, instance));
    expect(keyed.status).toBe(403);
    expect(keyed.message).toContain("an API key has no user token to exchange");
    const pinned = {
      ...instance,
      exchange: { ...instance.exchange, issuer: "https://other.example" },
    };
    const other = await refusal(exchanger.tokenFor(person(), pinned));
    expect(other.status).toBe(403);
    expect(other.message).toContain("you signed in at https://idp.example.com");
    const noClient = await refusal(exchanger.tokenFor(person("https://unknown.example"), instance));
    expect(noClient.status).toBe(400);
    expect(noClient.message).toContain("BERTH_OAUTH_ISSUERS[].tokenExchange");
    expect(fake.requests).toHaveLength(0);
  });

  it("maps the issuer's answers: invalid_grant 403, other refusals 502, 5xx and unreachable 503 with Retry-After, no token type 502", async () => {
    const answers: Array<[Response | Error, number]> = [
      [
        Response.json(
          { error: "invalid_grant", error_description: `bad ${SUBJECT}` },
          { status: 400 },
        ),
        403,
      ],
      [Response.json({ error: "invalid_client" }, { status: 401 }), 502],
      [new Response("down", { status: 503 }), 503],
      [new TypeError("fetch failed"), 503],
      [Response.json({ access_token: "x", token_type: "N_A" }), 502],
    ];
    for (const [answer, status] of answers) {
      const fake = issuerFake(() => {
        if (answer instanceof Error) throw answer;
        return answer.clone();
      });
      const error = await refusal(exchangerWith(fake.fetchFn).tokenFor(person(), instance));
      expect(error.status, error.message).toBe(status);
      if (status === 503) expect(error.headers["retry-after"]).toBe("5");
      // An issuer's description that echoes the subject token is not repeated.
      expect(error.message).not.toContain(SUBJECT);
    }
  });

  it("refuses an issuer that does not advertise the grant", async () => {
    const fetchFn = async () =>
      Response.json({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/token`,
        grant_types_supported: ["authorization_code"],
      });
    const error = await refusal(exchangerWith(fetchFn).tokenFor(person(), instance));
    expect(error.status).toBe(400);
    expect(error.message).toContain("does not support token exchange");
  });
});
