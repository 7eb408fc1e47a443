import type { Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { TokenIdentity } from "./token-verifier.js";

// A subject seen recently is not written again for this long.
const REFRESH_MS = 10 * 60_000;
const MAX_REMEMBERED = 10_000;

/**
 * Keeps the table that names token subjects (`gateway.oauth_subjects`): an access token's calls
 * and changes carry the user's actor id (`oauth_…`, in the place of a key id, so it also travels
 * in events as their actor), and the audit trail joins it to the user's name, subject and issuer.
 * Written in the background once per subject and process; a failed write is retried next time.
 */
export function createSubjectRecorder(orm: MikroORM, logger: Logger) {
  const seen = new Map<string, number>();
  return (identity: TokenIdentity) => {
    if ((seen.get(identity.actorId) ?? 0) > Date.now()) return;
    if (seen.size >= MAX_REMEMBERED) seen.clear();
    seen.set(identity.actorId, Date.now() + REFRESH_MS);
    orm.em
      .fork()
      .execute(
        `insert into "gateway"."oauth_subjects" ("actor_id", "issuer", "subject", "name", "last_seen")
         values (?, ?, ?, ?, now())
         on conflict ("actor_id") do update set "name" = excluded."name", "last_seen" = now()`,
        [identity.actorId, identity.issuer, identity.subject, identity.name.slice(0, 255)],
      )
      .catch((error: unknown) => {
        seen.delete(identity.actorId);
        logger.warn({ err: error }, "recording a token subject failed");
      });
  };
}
