import { randomBytes } from "node:crypto";
import type { ConsoleBundle, ConsoleFile } from "@berth/console";
import type { HttpRequest, HttpResponse } from "../http/types.js";

/**
 * What the console's pages may load: only this origin's own scripts, styles, images and API.
 * No inline script, no eval, no frames or plugins, no form posts; inline styles only those the
 * bundle lists by hash and those carrying this response's nonce.
 */
export function consoleCsp(styleSources: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src ${["'self'", ...styleSources.map((source) => `'${source}'`)].join(" ")}`,
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const NOT_BUILT =
  "The console is not built. Build it with `npm run build -w @berth/console` (npm start and npm test do).\n";

/**
 * GET/HEAD /ui and /ui/…: the built console from memory; /docs: the API reference page (Swagger
 * UI over /openapi.json) from the same build. Content-hashed assets are cached for a year; pages
 * are revalidated on every load (a new build is picked up at once) and carry a fresh style
 * nonce. Paths under /ui that name no file and have no extension are the console's page.
 */
export function createConsoleRoutes(
  bundle: ConsoleBundle | undefined,
): (req: HttpRequest, res: HttpResponse) => void {
  const page = bundle?.files.get("index.html");
  const docs = bundle?.files.get("docs.html");
  const assetCsp = consoleCsp(bundle?.styleHashes ?? []);
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const rest = path === "/ui" ? "" : path.slice("/ui/".length);
    if (!bundle || !page || !docs) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "60" });
      res.end(NOT_BUILT);
      return;
    }
    if (path === "/docs") {
      servePage(req, res, docs, bundle.styleHashes);
      return;
    }
    const file = bundle.files.get(rest);
    if (file && !file.contentType.startsWith("text/html")) {
      serveFile(req, res, file, assetCsp);
      return;
    }
    if (rest !== "" && /\.[a-z0-9]+$/i.test(rest)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
      return;
    }
    servePage(req, res, page, bundle.styleHashes);
  };
}

/** A page of the build, with a fresh nonce for the style elements its scripts create. */
function servePage(
  req: HttpRequest,
  res: HttpResponse,
  page: ConsoleFile,
  styleHashes: readonly string[],
): void {
  const nonce = randomBytes(16).toString("base64");
  const html = page.body
    .toString("utf8")
    .replace("<head>", `<head>\n    <meta name="csp-nonce" content="${nonce}" />`);
  serveFile(
    req,
    res,
    { ...page, body: Buffer.from(html) },
    consoleCsp([...styleHashes, `nonce-${nonce}`]),
  );
}

/** Writes one built file with its type, caching and the console's security headers. */
export function serveFile(
  req: HttpRequest,
  res: HttpResponse,
  file: ConsoleFile,
  csp: string,
): void {
  res.writeHead(200, {
    "content-type": file.contentType,
    "content-length": String(file.body.length),
    "cache-control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  });
  if (req.method === "HEAD") res.end();
  else res.end(file.body);
}
