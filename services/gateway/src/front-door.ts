import type { Logger } from "@berth/platform";
import type { HttpRequest, HttpResponse } from "./http/types.js";

/** A Node request handler of either HTTP version. */
export type Handler = (req: HttpRequest, res: HttpResponse) => void;

/** One row of the front door's table: which requests it takes and what serves them. */
export interface FrontRoute {
  readonly name: string;
  /** HTTP methods taken; all when absent. */
  readonly methods?: readonly string[];
  /** Paths taken exactly. */
  readonly paths?: readonly string[];
  /** Path prefixes taken (each ends with "/"). */
  readonly prefixes?: readonly string[];
  /** Paths taken by asking the handler (the RPC methods it registered). */
  readonly serves?: (path: string) => boolean;
  readonly handle: Handler;
}

/** Options of createFrontDoor. */
export interface FrontDoorOptions {
  /** Runs before any route (CORS); returns true when it answered the request itself. */
  readonly edge?: (req: HttpRequest, res: HttpResponse) => boolean;
  /** Tried top to bottom; the first that takes the request serves it. */
  readonly routes: readonly FrontRoute[];
  /** Serves what no route takes. */
  readonly fallback: Handler;
  readonly logger: Logger;
}

const INTERNAL = '{"error":{"code":500,"status":"INTERNAL","message":"internal error"}}';

/**
 * The gateway's one routing table by path and protocol, read top to bottom: every request goes
 * to exactly one row (or the fallback), which owns it from there. A handler that throws
 * synchronously answers 500 instead of taking the process down.
 */
export function createFrontDoor(options: FrontDoorOptions): Handler {
  const { routes, fallback, edge, logger } = options;
  const takes = (route: FrontRoute, method: string, path: string) =>
    (!route.methods || route.methods.includes(method)) &&
    (route.paths?.includes(path) ||
      route.prefixes?.some((prefix) => path.startsWith(prefix)) ||
      route.serves?.(path) === true);

  return (req, res) => {
    try {
      if (edge?.(req, res)) return;
      const url = req.url ?? "/";
      const query = url.indexOf("?");
      const path = query === -1 ? url : url.slice(0, query);
      const method = req.method ?? "GET";
      const route = routes.find((r) => takes(r, method, path));
      (route?.handle ?? fallback)(req, res);
    } catch (error) {
      logger.error({ err: error }, "request handler failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(INTERNAL);
    }
  };
}
