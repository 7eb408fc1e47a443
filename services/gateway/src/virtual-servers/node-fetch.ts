import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { dialGuarded, GUARD_HEADER } from "@berth/platform";

/** A fetch for the MCP SDK's client transport. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * A fetch over node:http that dials through the given lookup (createGuardedLookup: the same
 * dial-time address policy as the MCP proxy's forwarder) and streams answers (event streams).
 * Address literals, such as the runtime's loopback endpoints, are dialled without it. An HTTP
 * container's guard credential (GUARD_HEADER, from the resolver) never goes out as a header: the
 * connection opens with it, as the MCP proxy's forwarder does.
 */
export function createNodeFetch(
  lookup: LookupFunction | undefined,
  agents: {
    http: http.Agent;
    https: https.Agent;
  },
): FetchLike {
  // One kept-alive pool per guard credential (per HTTP container), bounded like the forwarder's.
  const guarded = new Map<string, http.Agent>();
  const guardedAgent = (guard: string): http.Agent => {
    let agent = guarded.get(guard);
    if (!agent) {
      if (guarded.size >= 1_000) {
        const oldest = guarded.keys().next().value!;
        guarded.get(oldest)?.destroy();
        guarded.delete(oldest);
      }
      agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
      agent.createConnection = (opts: net.NetConnectOpts) => dialGuarded(guard, opts);
      guarded.set(guard, agent);
    }
    return agent;
  };
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const secure = url.protocol === "https:";
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const guard = headers[GUARD_HEADER];
      delete headers[GUARD_HEADER];
      const body = typeof init.body === "string" ? Buffer.from(init.body) : undefined;
      if (body) headers["content-length"] = String(body.length);
      const request = (secure ? https : http).request(url, {
        method: init.method ?? "GET",
        headers,
        agent: guard !== undefined ? guardedAgent(guard) : secure ? agents.https : agents.http,
        ...(lookup ? { lookup } : {}),
      });
      const signal = init.signal;
      const abort = () => request.destroy(signal?.reason ?? new Error("aborted"));
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", abort, { once: true });
      request.once("error", (error) => {
        signal?.removeEventListener("abort", abort);
        reject(error);
      });
      request.once("response", (answer) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(answer.headers)) {
          if (typeof value === "string") responseHeaders.set(name, value);
          else if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
        }
        const status = answer.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init.method === "HEAD";
        answer.once("close", () => signal?.removeEventListener("abort", abort));
        if (empty) answer.resume();
        resolve(
          new Response(empty ? null : (Readable.toWeb(answer) as ReadableStream<Uint8Array>), {
            status,
            headers: responseHeaders,
          }),
        );
      });
      request.end(body);
    });
}
