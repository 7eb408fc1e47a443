import type { Logger } from "@berth/platform";
import { type KV, type KvWatchEntry, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/nats-core";
import { GATEWAY_BUCKETS, openBucket } from "./gateway-buckets.js";

/**
 * What a replica may hold in a cache and must forget when it changes elsewhere: an API key
 * (revoked), a user (removed: their tokens stop working), a user's team memberships (a role
 * changed or a membership ended).
 */
export type RevokedKind = "key" | "user" | "membership";

/** Tells every gateway replica of revoked credentials, and hears of the others' revocations. */
export interface RevocationFeed {
  /** Starts watching in the background (never fails: without NATS the cache TTL still holds). */
  start(): void;
  /** Announces a revocation to every replica; kept and retried while NATS cannot take it. */
  announce(kind: RevokedKind, id: string): void;
  stop(): Promise<void>;
}

/** Options of createRevocationFeed. */
export interface RevocationFeedOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Copies of the bucket on a JetStream cluster (NATS_STREAM_REPLICAS); 1 by default. */
  replicas?: number;
  /** Called for every revocation on any replica (this one included). */
  onRevoked(kind: RevokedKind, id: string): void;
  /** Delay between attempts while NATS is away (default 1 s). */
  retryMs?: number;
}

// A revocation only has to outlive the longest key cache (API_KEY_CACHE_MS, 10 s by default).
const KEEP_MS = 60 * 60_000;
const MAX_PENDING = 10_000;

// Bucket keys: a key id as it is (what replicas wrote before users and teams existed, so a
// replica of either version reads the other's), a user or membership change with its prefix.
const PREFIXES: ReadonlyArray<readonly [RevokedKind, string]> = [
  ["user", "user."],
  ["membership", "membership."],
];

/** The bucket key of a revocation. */
export function revocationKey(kind: RevokedKind, id: string): string {
  const prefix = PREFIXES.find(([k]) => k === kind)?.[1] ?? "";
  return `${prefix}${id}`;
}

/** What a bucket key says was revoked. */
export function readRevocationKey(key: string): { kind: RevokedKind; id: string } {
  for (const [kind, prefix] of PREFIXES) {
    if (key.startsWith(prefix)) return { kind, id: key.slice(prefix.length) };
  }
  return { kind: "key", id: key };
}

/**
 * Revocations on every replica within moments instead of a cache lifetime: a revoking replica
 * puts the key, user or membership in a JetStream key-value bucket, and every replica watches
 * the bucket and forgets what it had cached of it. The watch resumes where it stopped after a NATS outage (a key revoked
 * meanwhile is still forgotten when NATS returns); the first watch also replays the revocations
 * of the last hour. While NATS is away, the authenticator's cache TTL bounds how long a revoked
 * key keeps working on other replicas.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const { logger } = options;
  const retryMs = options.retryMs ?? 1_000;
  let bucket: Promise<KV> | undefined;
  let watcher: QueuedIterator<KvWatchEntry> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const pending = new Set<string>();
  let flushing: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;

  const kv = () => {
    bucket ??= openBucket(options.nc, GATEWAY_BUCKETS.revocations, {
      history: 1,
      replicas: options.replicas ?? 1,
      ttl: KEEP_MS,
      timeout: 2_000,
    }).catch((error) => {
      bucket = undefined;
      throw error;
    });
    return bucket;
  };

  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function watch(): Promise<void> {
    let next: number | undefined;
    let failures = 0;
    while (!stopped) {
      try {
        const iterator = await (await kv()).watch(
          next === undefined ? { include: KvWatchInclude.LastValue } : { resumeFromRevision: next },
        );
        watcher = iterator;
        if (stopped) iterator.stop();
        if (failures > 0) logger.info("revocation feed resumed");
        failures = 0;
        for await (const entry of iterator) {
          next = entry.revision + 1;
          if (entry.operation === "PUT") {
            const { kind, id } = readRevocationKey(entry.key);
            options.onRevoked(kind, id);
          }
        }
      } catch (error) {
        failures++;
        if (failures === 1 && !stopped) {
          logger.warn(
            { err: error },
            "revocation feed interrupted; other replicas' revocations take up to the cache lifetime (API_KEY_CACHE_MS) until it resumes",
          );
        }
      }
      watcher = undefined;
      if (!stopped) await pause();
    }
  }

  async function flush(): Promise<void> {
    for (const key of [...pending]) {
      if (stopped) return;
      try {
        await (await kv()).put(key, new Date().toISOString());
        pending.delete(key);
      } catch (error) {
        logger.warn(
          { err: error, revoked: readRevocationKey(key) },
          "cannot announce a revocation to the other gateways; will retry",
        );
        retry ??= setTimeout(() => {
          retry = undefined;
          void send();
        }, retryMs);
        return;
      }
    }
  }

  function send(): Promise<void> {
    if (flushing) return flushing.then(() => (pending.size > 0 ? send() : undefined));
    flushing = flush().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    start() {
      if (running) return;
      stopped = false;
      running = watch();
    },
    announce(kind, id) {
      pending.add(revocationKey(kind, id));
      if (pending.size > MAX_PENDING) pending.delete(pending.values().next().value!);
      void send();
    },
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      watcher?.stop();
      wake?.();
      await running;
      await flushing;
      running = undefined;
    },
  };
}
