import type { HttpRequest, HttpResponse } from "../http/types.js";
import type { DelegatedCredentials } from "./delegated-credentials.js";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The redirect URI of every delegated flow (GET /delegation/callback?code&state): the browser
 * lands here after the user signed in at the upstream's authorization server. Unauthenticated
 * by design (the browser carries no Berth token): the single-use state, bound to the user and
 * instance that started the flow, is what ties the code to a person. The page never shows a
 * token.
 */
export function createDelegationCallback(credentials: DelegatedCredentials) {
  return (req: HttpRequest, res: HttpResponse) => {
    const query = new URL(req.url ?? "/", "http://gateway").searchParams;
    req.resume();
    void credentials
      .complete(query)
      .catch(() => ({
        status: 503,
        message: "The gateway could not finish the sign-in: try again.",
      }))
      .then(({ status, message }) => {
        res.statusCode = status;
        res.setHeader("content-type", "text/html; charset=utf-8");
        res.setHeader("cache-control", "no-store");
        res.setHeader("referrer-policy", "no-referrer");
        res.setHeader("content-security-policy", "default-src 'none'");
        res.end(
          `<!doctype html><html><head><meta charset="utf-8"><title>Berth</title></head><body><p>${escapeHtml(message)}</p></body></html>`,
        );
      });
  };
}
