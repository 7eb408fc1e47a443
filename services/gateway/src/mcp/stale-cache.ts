/** Options of createStaleCache. */
export interface StaleCacheOptions {
  /** How long a value is fresh; after that it is served while a refresh runs in the background. */
  ttlMs: number;
  /** Whether a failed refresh means "the source is away" (keep serving) rather than "gone". */
  isOutage(error: unknown): boolean;
  /** Called when a stale value is kept because its source is away. */
  onStale(key: string, error: unknown): void;
  maxEntries?: number;
  now?: () => number;
}

/** A read-through cache that serves stale values while its source is away. */
export interface StaleCache<T> {
  /** The value: fresh, or stale while refreshing, or loaded now (the first time). */
  get(key: string, load: () => Promise<T>): Promise<T>;
  delete(key: string): void;
  /** Deletes every entry whose value matches. */
  deleteWhere(match: (value: T) => boolean): void;
}

/**
 * Stale-while-revalidate: once fresh, a value is never waited for again. A background refresh
 * replaces it; a refresh that fails because the source is away (isOutage) keeps it for another
 * ttl (so a control-plane outage costs one lookup per ttl, not one per call); any other failure
 * (the thing is gone) drops it, so the next call learns why.
 */
export function createStaleCache<T>(options: StaleCacheOptions): StaleCache<T> {
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? 10_000;
  const entries = new Map<string, { value: T; until: number }>();
  const refreshing = new Set<string>();

  const remember = (key: string, value: T) => {
    if (!entries.has(key) && entries.size >= max) entries.delete(entries.keys().next().value!);
    entries.set(key, { value, until: now() + options.ttlMs });
  };

  const refresh = (key: string, load: () => Promise<T>) => {
    if (refreshing.has(key)) return;
    refreshing.add(key);
    load()
      .then(
        (value) => {
          if (entries.has(key)) remember(key, value);
        },
        (error: unknown) => {
          const entry = entries.get(key);
          if (!entry) return;
          if (!options.isOutage(error)) return void entries.delete(key);
          entry.until = now() + options.ttlMs;
          options.onStale(key, error);
        },
      )
      .finally(() => refreshing.delete(key));
  };

  return {
    async get(key, load) {
      const entry = entries.get(key);
      if (entry) {
        if (entry.until <= now()) refresh(key, load);
        return entry.value;
      }
      const value = await load();
      remember(key, value);
      return value;
    },
    delete(key) {
      entries.delete(key);
    },
    deleteWhere(match) {
      for (const [key, entry] of entries) if (match(entry.value)) entries.delete(key);
    },
  };
}
