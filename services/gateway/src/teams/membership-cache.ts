import type { Role } from "./roles.js";

const MAX_CACHED = 10_000;

/** A user's memberships, read at most once per `ttlMs` unless forgotten (after a change). */
export interface MembershipCache {
  of(userId: string): Promise<ReadonlyMap<string, Role>>;
  /** Reads the user's memberships again next time (this replica; others within ttlMs). */
  forget(userId: string): void;
}

/** A MembershipCache over `load` (the team store's membershipsOf). */
export function createMembershipCache(
  load: (userId: string) => Promise<Map<string, Role>>,
  ttlMs: number,
): MembershipCache {
  const cache = new Map<string, { teams: ReadonlyMap<string, Role>; until: number }>();
  return {
    async of(userId) {
      const hit = cache.get(userId);
      if (hit && hit.until > Date.now()) return hit.teams;
      const teams = await load(userId);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(userId, { teams, until: Date.now() + ttlMs });
      return teams;
    },
    forget: (userId) => void cache.delete(userId),
  };
}
