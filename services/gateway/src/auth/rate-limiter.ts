/** The answer of a rate limiter: allowed, or how many seconds until a request would be. */
export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Takes tokens from per-key buckets; the answer may need a round trip (the shared limiter). */
export interface RateGate {
  take(key: string, rate: number, burst: number): RateDecision | Promise<RateDecision>;
}

/** Per-key token buckets in this process. */
export interface RateLimiter {
  /** Takes one token from the key's bucket (refilled at `rate` per second, holding `burst`). */
  take(key: string, rate: number, burst: number): RateDecision;
  /** Whether a token is there now, without taking it. */
  peek(key: string, rate: number, burst: number): RateDecision;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 100_000;

/** A token-bucket limiter in memory; `now` is injectable for tests (milliseconds). */
export function createRateLimiter(now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const wait = (tokens: number, rate: number) => Math.max(1, Math.ceil((1 - tokens) / rate));
  return {
    peek(key, rate, burst) {
      const bucket = buckets.get(key);
      if (!bucket) return { ok: true };
      const tokens = Math.min(burst, bucket.tokens + ((now() - bucket.at) / 1000) * rate);
      return tokens >= 1 ? { ok: true } : { ok: false, retryAfterSeconds: wait(tokens, rate) };
    },
    take(key, rate, burst) {
      const t = now();
      let bucket = buckets.get(key);
      if (!bucket) {
        // A full bucket is the same as none: forget the oldest when there are too many.
        if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value!);
        bucket = { tokens: burst, at: t };
        buckets.set(key, bucket);
      }
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
      bucket.at = t;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: wait(bucket.tokens, rate) };
    },
  };
}
