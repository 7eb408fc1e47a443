import { Code, ConnectError } from "@berth/platform";
import { describe, expect, it } from "vitest";
import type { ApiKeyRow } from "../api-keys/api-key-entity.js";
import { generateApiKey, hashSecret } from "../api-keys/key-format.js";
import { createAuthenticator } from "./authenticator.js";

function rowFor(id: string, secret: string, extra: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return {
    id,
    displayName: "t",
    secretHash: hashSecret(secret),
    scopes: ["read"],
    instances: [],
    rateLimitPerSecond: 0,
    rateLimitBurst: 0,
    expireTime: null,
    createTime: new Date(0),
    revokeTime: null,
    createdBy: "",
    ...extra,
  } as ApiKeyRow;
}

const bearer = (key: string) => (name: string) =>
  name === "authorization" ? `Bearer ${key}` : undefined;

async function codeOf(promise: Promise<unknown>): Promise<[Code, string]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return [(error as ConnectError).code, (error as ConnectError).rawMessage];
}

describe("authenticator", () => {
  it("accepts a stored key, reads it once within the cache time, and again after forget()", async () => {
    const { id, secret, key } = generateApiKey();
    let loads = 0;
    const auth = createAuthenticator({
      load: async () => {
        loads++;
        return rowFor(id, secret);
      },
    });
    expect((await auth.authenticate(bearer(key))).keyId).toBe(id);
    await auth.authenticate((name) => (name === "x-api-key" ? key : undefined));
    expect(loads).toBe(1);
    auth.forget(id);
    await auth.authenticate(bearer(key));
    expect(loads).toBe(2);
  });

  it("refuses missing, malformed, unknown, wrong, revoked and expired keys with UNAUTHENTICATED", async () => {
    const good = generateApiKey();
    const revoked = generateApiKey();
    const expired = generateApiKey();
    let now = 1_000_000;
    const rows = new Map([
      [good.id, rowFor(good.id, good.secret)],
      [revoked.id, rowFor(revoked.id, revoked.secret, { revokeTime: new Date() })],
      [expired.id, rowFor(expired.id, expired.secret, { expireTime: new Date(now + 10) })],
    ]);
    const auth = createAuthenticator({ load: async (id) => rows.get(id) ?? null, now: () => now });
    const wrongSecret = `berth_${good.id}_${generateApiKey().secret}`;
    expect(await codeOf(auth.authenticate(() => undefined))).toEqual([
      Code.Unauthenticated,
      expect.stringMatching(/required/),
    ]);
    expect(await codeOf(auth.authenticate(bearer("nope")))).toEqual([
      Code.Unauthenticated,
      "the API key is not valid",
    ]);
    expect(await codeOf(auth.authenticate(bearer(generateApiKey().key)))).toEqual([
      Code.Unauthenticated,
      "the API key is not valid",
    ]);
    expect(await codeOf(auth.authenticate(bearer(wrongSecret)))).toEqual([
      Code.Unauthenticated,
      "the API key is not valid",
    ]);
    expect(await codeOf(auth.authenticate(bearer(revoked.key)))).toEqual([
      Code.Unauthenticated,
      "the API key has been revoked",
    ]);
    await auth.authenticate(bearer(expired.key));
    now += 11;
    expect(await codeOf(auth.authenticate(bearer(expired.key)))).toEqual([
      Code.Unauthenticated,
      "the API key has expired",
    ]);
  });
});
