import type { Logger } from "@berth/platform";
import { JetStreamApiCodes, JetStreamApiError, StorageType } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { RateDecision, RateGate, RateLimiter } from "../auth/rate-limiter.js";
import { GATEWAY_BUCKETS, openBucket } from "./gateway-buckets.js";

/** Options of createSharedRateLimiter. */
export interface SharedRateLimiterOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Copies of the bucket on a JetStream cluster (NATS_STREAM_REPLICAS); 1 by default. */
  replicas?: number;
  /**
   * Names this limiter's buckets apart from another's in the shared store ("key", "address"),
   * and the deployment's apart from another deployment's on the same NATS (deploymentOf).
   */
  scope: string;
  deployment: string;
  /** What decides while the store cannot answer: this replica's own buckets. */
  local: RateLimiter;
  /**
   * The longest a request waits for the store before the local limiter decides (default 1 s).
   * While the NATS connection is down, the local limiter decides at once.
   */
  timeoutMs?: number;
  /** After a failure, how long the local limiter decides before the store is asked again (5 s). */
  outageMs?: number;
  now?: () => number;
}

/** A limiter shared by every gateway replica, which can be stopped. */
export interface SharedRateLimiter extends RateGate {
  stop(): void;
}

interface Seen {
  tokens: number;
  /** When `tokens` was true (epoch ms: replicas compare it). */
  at: number;
  /** The bucket entry's revision (0: none), the condition of the next write. */
  revision: number;
}

interface Waiter {
  rate: number;
  burst: number;
  resolve(decision: RateDecision): void;
}

/** Tokens this replica took from the shared bucket ahead of need, spent without a round trip. */
interface Lease {
  tokens: number;
  /** Unspent tokens are dropped after this (epoch ms): a replica never sits on a key's tokens. */
  until: number;
}

/** How long leased tokens stay this replica's to spend. */
const LEASE_MS = 1_000;
// At most this share of a second's refill, and of the burst, is leased at once.
const LEASE_SECONDS = 0.1;
const LEASE_BURST_SHARE = 0.25;

/**
 * How many tokens a replica leases ahead of need for a key with this limit: 1 (none ahead:
 * every take is a compare-and-set, exact across replicas) for slow limits, up to a tenth of a
 * second's refill and a quarter of the burst for fast ones. What a lease may cost: tokens a
 * replica has leased but not yet spent are refused to the other replicas, at most `leaseSize`
 * per replica and for at most LEASE_MS; it never lets more calls through than the shared bucket
 * holds.
 */
export function leaseSize(rate: number, burst: number): number {
  return Math.max(1, Math.floor(Math.min(rate * LEASE_SECONDS, burst * LEASE_BURST_SHARE)));
}

// A bucket idle this long is full again at any sensible rate; its entry may go.
const ENTRY_TTL_MS = 60 * 60_000;
const MAX_BYTES = 64 * 1024 * 1024;
const MAX_SEEN = 100_000;
// Writes of one key on one replica are batched: only other replicas' writes conflict.
const MAX_ATTEMPTS = 10;

interface Limit {
  rate: number;
  burst: number;
}

const ALLOWED: RateDecision = { ok: true };

class StoreTimeout extends Error {
  override readonly name = "StoreTimeout";
}

/**
 * Token buckets in a JetStream key-value bucket, so that a key's limit holds across every
 * gateway replica: each take is a compare-and-set on the key's entry (its revision), retried
 * when another replica wrote in between. Takes of one key on one replica are batched into one
 * write while a write is in flight, and a refusal needs no write at all (the last entry seen
 * can only overstate the tokens left: other replicas only take). When the store does not answer
 * within `timeoutMs` (NATS away, bucket full), the replica's own limiter decides for `outageMs`
 * (each replica then allows the whole limit), so a request never waits on the store for long.
 *
 * A key with a fast limit (the default 50/s) would still cost every allowed call a round trip to
 * NATS: such keys are leased, a few tokens at a time (leaseSize), by the same compare-and-set,
 * and spent here without asking; the next lease is taken beside the calls when half is spent.
 * The limit stays shared and is never exceeded; the error is the other way, bounded: tokens a
 * replica leased and has not spent yet (at most leaseSize, for at most a second) are not
 * available on the others. Slow limits (and the failed-authentication limit) lease nothing.
 */
export function createSharedRateLimiter(options: SharedRateLimiterOptions): SharedRateLimiter {
  const { logger, local } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 1_000;
  const outageMs = options.outageMs ?? 5_000;
  const seen = new Map<string, Seen>();
  const queues = new Map<string, Waiter[]>();
  const leases = new Map<string, Lease>();
  let bucket: Promise<KV> | undefined;
  let downUntil = 0;
  let outage = false;
  let stopped = false;
  let connected = true;
  // Disconnected, every store call would wait for its timeout: decide locally at once instead.
  void (async () => {
    for await (const status of options.nc.status()) {
      if (status.type === "disconnect") connected = false;
      else if (status.type === "reconnect") connected = true;
    }
  })().catch(() => undefined);

  const kv = () => {
    bucket ??= openBucket(options.nc, GATEWAY_BUCKETS.rates, {
      history: 1,
      replicas: options.replicas ?? 1,
      ttl: ENTRY_TTL_MS,
      max_bytes: MAX_BYTES,
      storage: StorageType.Memory,
      timeout: timeoutMs,
    }).catch((error) => {
      bucket = undefined;
      throw error;
    });
    return bucket;
  };

  const remember = (name: string, value: Seen) => {
    seen.delete(name);
    if (seen.size >= MAX_SEEN) seen.delete(seen.keys().next().value!);
    seen.set(name, value);
  };

  const refilled = (state: Seen, rate: number, burst: number, t: number) =>
    Math.min(burst, state.tokens + (Math.max(0, t - state.at) / 1000) * rate);

  const waitSeconds = (tokens: number, rate: number) => Math.max(1, Math.ceil((1 - tokens) / rate));

  async function read(store: KV, name: string, burst: number): Promise<Seen> {
    const entry = await store.get(name);
    if (entry?.operation !== "PUT") {
      return { tokens: burst, at: now(), revision: entry?.revision ?? 0 };
    }
    const { t, a } = entry.json<{ t: number; a: number }>();
    return { tokens: t, at: a, revision: entry.revision };
  }

  /** A leased token of the key, if this replica holds one; `undefined` when it has to ask. */
  function spendLeased(name: string, rate: number, burst: number): RateDecision | undefined {
    const lease = leases.get(name);
    if (!lease) return undefined;
    if (lease.tokens < 1 || now() >= lease.until) {
      leases.delete(name);
      return undefined;
    }
    lease.tokens -= 1;
    // Half spent: lease the next ones beside the calls, so that none waits for the store.
    if (lease.tokens < leaseSize(rate, burst) / 2 && !queues.has(name)) {
      queues.set(name, []);
      void drain(name, { rate, burst });
    }
    return ALLOWED;
  }

  /**
   * Decides a batch of takes of one key with one write; resolves every waiter. For a key with a
   * fast limit it also leases tokens ahead of need (leaseSize), which later takes spend locally.
   */
  async function decide(name: string, batch: Waiter[], limit: Limit): Promise<void> {
    const store = await kv();
    // Every take of one key carries the key's own limit.
    const { rate, burst } = limit;
    const lease = leaseSize(rate, burst);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const state = seen.get(name) ?? (await read(store, name, burst));
      const t = now();
      const tokens = refilled(state, rate, burst, t);
      const held = leases.get(name);
      const holding = held && t < held.until ? held.tokens : 0;
      const ahead = lease > 1 ? Math.max(0, lease - holding) : 0;
      const granted = Math.min(batch.length + ahead, Math.floor(tokens));
      const left = tokens - granted;
      if (granted > 0) {
        const value = JSON.stringify({ t: left, a: t });
        try {
          const revision =
            state.revision === 0
              ? await store.create(name, value)
              : await store.update(name, value, state.revision, timeoutMs);
          remember(name, { tokens: left, at: t, revision });
          const extra = granted - Math.min(granted, batch.length);
          if (extra > 0) {
            // Calls may have spent from the lease while the write was under way: add to what
            // is left now, never to what was there before.
            const current = leases.get(name);
            const unspent = current && now() < current.until ? current.tokens : 0;
            leases.delete(name);
            if (leases.size >= MAX_SEEN) leases.delete(leases.keys().next().value!);
            leases.set(name, { tokens: unspent + extra, until: now() + LEASE_MS });
          }
        } catch (error) {
          if (!isConflict(error)) throw error;
          // Another replica took tokens since: read the entry again.
          seen.delete(name);
          continue;
        }
      } else if (!seen.has(name)) {
        remember(name, state);
      }
      batch.forEach((waiter, i) => {
        waiter.resolve(
          i < granted ? { ok: true } : { ok: false, retryAfterSeconds: waitSeconds(left, rate) },
        );
      });
      return;
    }
    // Replicas kept writing in between: this round is decided locally.
    for (const waiter of batch) waiter.resolve(local.take(name, waiter.rate, waiter.burst));
  }

  async function drain(name: string, first?: Limit): Promise<void> {
    // A lease renewal starts with no waiter: its first round runs all the same.
    let renewal = first;
    for (;;) {
      const batch = queues.get(name);
      if (!batch || (batch.length === 0 && !renewal)) {
        queues.delete(name);
        return;
      }
      const limit = renewal ?? batch[0]!;
      renewal = undefined;
      queues.set(name, []);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          decide(name, batch, limit),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new StoreTimeout("no answer in time")), timeoutMs);
          }),
        ]);
        if (outage) {
          outage = false;
          logger.info("shared rate limits reachable again");
        }
      } catch (error) {
        seen.delete(name);
        leases.delete(name);
        downUntil = now() + outageMs;
        if (!outage) {
          outage = true;
          logger.warn(
            { err: error },
            "shared rate limits unreachable; this replica limits on its own meanwhile",
          );
        }
        // Waiters a failed batch has not answered yet are answered locally (resolve is once).
        for (const waiter of batch) waiter.resolve(local.take(name, waiter.rate, waiter.burst));
        for (const waiter of queues.get(name) ?? []) {
          waiter.resolve(local.take(name, waiter.rate, waiter.burst));
        }
        queues.delete(name);
        return;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  const prefix = `${options.deployment}.${options.scope}`;
  // Opened now, so that the first requests do not wait for the bucket to be created.
  void kv().catch(() => undefined);

  return {
    take(key, rate, burst) {
      const name = `${prefix}.${Buffer.from(key).toString("base64url")}`;
      const leased = spendLeased(name, rate, burst);
      if (leased) return leased;
      if (stopped || !connected || now() < downUntil || options.nc.isClosed()) {
        return local.take(name, rate, burst);
      }
      return new Promise<RateDecision>((resolve) => {
        let answered = false;
        const waiter: Waiter = {
          rate,
          burst,
          resolve: (decision) => {
            if (answered) return;
            answered = true;
            resolve(decision);
          },
        };
        const queue = queues.get(name);
        if (queue) {
          queue.push(waiter);
          return;
        }
        queues.set(name, [waiter]);
        void drain(name);
      });
    },
    stop() {
      stopped = true;
    },
  };
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * The name the replicas of one deployment share in the rate-limit bucket: they share one
 * database, so its name (from DATABASE_URL) tells deployments on one NATS apart (each test
 * mesh has a database of its own).
 */
export function deploymentOf(databaseUrl: string): string {
  let name = "berth";
  try {
    name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || name;
  } catch {
    // A URL the database driver accepts but URL does not: one shared name.
  }
  return Buffer.from(name).toString("base64url");
}
