import { randomBytes } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

/** The embedded authorization server's keys: made on first start, the same on every replica. */
export interface IssuerKeys {
  /** The private signing key (ES256) as a JWK; never logged, never served (the JWKS is public). */
  signing: JWK;
  /** Keys that sign the server's cookies. */
  cookies: string[];
}

async function freshSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: "ES256", use: "sig", kid: await calculateJwkThumbprint(jwk) };
}

/**
 * Loads the keys, making them the first time. Concurrent first starts agree: each inserts its
 * own only when none is stored, then everyone reads the one that won.
 */
export async function loadIssuerKeys(orm: MikroORM): Promise<IssuerKeys> {
  const em = orm.em.fork();
  const candidates: Record<string, unknown> = {
    signing: await freshSigningKey(),
    cookies: [randomBytes(32).toString("base64url")],
  };
  for (const [name, value] of Object.entries(candidates)) {
    await em.execute(
      `insert into "gateway"."oauth_keys" ("name", "value", "create_time") values (?, ?::jsonb, now())
       on conflict ("name") do nothing`,
      [name, JSON.stringify(value)],
    );
  }
  const rows = await em.execute<{ name: string; value: unknown }[]>(
    `select "name", "value" from "gateway"."oauth_keys" where "name" in ('signing', 'cookies')`,
    [],
  );
  const stored = Object.fromEntries(rows.map((row) => [row.name, row.value]));
  return { signing: stored.signing as JWK, cookies: stored.cookies as string[] };
}
