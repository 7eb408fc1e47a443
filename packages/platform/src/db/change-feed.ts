import pg from "pg";
import type { Logger } from "../logging/logger.js";
import { connectionProblem, passwordOf } from "./database-url.js";

/** Options of createChangeFeed. */
export interface ChangeFeedOptions {
  /** The service's DATABASE_URL: notifications are per database. */
  url: string;
  /** The channel its triggers notify (pg_notify). */
  channel: string;
  logger: Logger;
  /** Each notification's payload, in commit order. */
  onNotify(payload: string): void;
  /**
   * The feed was interrupted (its connection lost) and is listening again: notifications sent
   * meanwhile are lost, so whoever relies on them reads the state again.
   */
  onGap(): void;
  /** Delay before listening again after a failure (default 1 s, doubling up to 10 s). */
  retryMs?: number;
}

/** A running feed. */
export interface ChangeFeed {
  /** Listens from now on; resolves once listening (or once the first attempt failed). */
  start(): Promise<void>;
  /** Whether the feed is listening now. */
  listening(): boolean;
  stop(): Promise<void>;
}

const MAX_RETRY_MS = 10_000;

/**
 * Postgres LISTEN on one channel, on a connection of its own (a pooled one cannot hold a
 * LISTEN), listening again after the connection is lost. Every replica of a service listens, and
 * a trigger notifies in the writing transaction, so a change committed by any replica reaches all
 * of them, at commit and in commit order.
 */
export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const { logger } = options;
  const baseRetry = options.retryMs ?? 1_000;
  const password = passwordOf(options.url);
  let client: pg.Client | undefined;
  let stopped = false;
  let failures = 0;
  let everListened = false;
  let timer: NodeJS.Timeout | undefined;
  let active = false;

  async function listen(): Promise<void> {
    if (stopped) return;
    const next = new pg.Client({ connectionString: options.url, keepAlive: true });
    const lost = (error?: Error) => {
      if (client !== next) return;
      client = undefined;
      active = false;
      next.removeAllListeners("notification");
      void next.end().catch(() => undefined);
      if (!stopped) {
        logger.warn(
          { reason: error ? connectionProblem(error, password) : "connection ended" },
          `change feed ${options.channel} lost its connection; listening again`,
        );
        retry();
      }
    };
    next.on("error", lost);
    next.on("end", () => lost());
    next.on("notification", (message) => {
      if (message.channel === options.channel) options.onNotify(message.payload ?? "");
    });
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${pg.escapeIdentifier(options.channel)}`);
    } catch (error) {
      if (client === next) {
        client = undefined;
        void next.end().catch(() => undefined);
        if (!stopped) {
          if (failures === 0) {
            logger.warn(
              { reason: connectionProblem(error, password) },
              `change feed ${options.channel} cannot listen; retrying`,
            );
          }
          retry();
        }
      }
      return;
    }
    if (stopped) {
      await next.end().catch(() => undefined);
      return;
    }
    // Listening again after a loss: what was notified meanwhile must be read again.
    if (everListened) {
      logger.info(`change feed ${options.channel} listening again`);
      options.onGap();
    }
    everListened = true;
    failures = 0;
    active = true;
  }

  function retry(): void {
    failures++;
    const delay = Math.min(MAX_RETRY_MS, baseRetry * 2 ** Math.min(failures - 1, 10));
    timer = setTimeout(() => {
      timer = undefined;
      // A first start that never listened counts as a gap too: whatever changed is read again.
      if (!everListened) everListened = true;
      void listen();
    }, delay);
  }

  return {
    start: () => listen(),
    listening: () => active,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const current = client;
      client = undefined;
      active = false;
      await current?.end().catch(() => undefined);
    },
  };
}
