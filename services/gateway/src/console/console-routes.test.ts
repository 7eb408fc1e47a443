import type { ConsoleBundle } from "@berth/console";
import { describe, expect, it } from "vitest";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { createConsoleRoutes } from "./console-routes.js";

function call(bundle: ConsoleBundle | undefined, url: string, method = "GET") {
  const res = {
    status: 0,
    headers: {} as Record<string, string>,
    body: "",
    writeHead(status: number, headers: Record<string, string>) {
      res.status = status;
      res.headers = headers;
    },
    end(body?: Buffer | string) {
      res.body = body === undefined ? "" : body.toString();
    },
  };
  createConsoleRoutes(bundle)(
    { url, method } as unknown as HttpRequest,
    res as unknown as HttpResponse,
  );
  return res;
}

const file = (text: string, contentType: string, immutable = false) => ({
  body: Buffer.from(text),
  contentType,
  immutable,
});
const bundle: ConsoleBundle = {
  dir: "/nowhere",
  styleHashes: ["sha256-abc="],
  files: new Map([
    ["index.html", file("<html><head></head><body>console</body></html>", "text/html")],
    ["docs.html", file("<html><head></head><body>docs</body></html>", "text/html")],
    ["assets/app-1234.js", file("console.log(1)", "text/javascript", true)],
  ]),
};

describe("the console's routes", () => {
  it("serves the page with a fresh style nonce in its CSP and no inline script allowed", () => {
    const first = call(bundle, "/ui");
    const second = call(bundle, "/ui/");
    expect(first.status).toBe(200);
    expect(first.body).toContain("console");
    const nonce = /content="([^"]+)"/.exec(first.body)?.[1];
    expect(first.headers["content-security-policy"]).toContain(`'nonce-${nonce}'`);
    expect(first.headers["content-security-policy"]).toContain("'sha256-abc='");
    expect(first.headers["content-security-policy"]).toContain("script-src 'self';");
    expect(first.headers["cache-control"]).toBe("no-cache");
    expect(second.body).not.toContain(`content="${nonce}"`);
  });

  it("caches hashed assets for a year and answers 404 for a file it does not have", () => {
    const asset = call(bundle, "/ui/assets/app-1234.js?v=1");
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect(asset.headers["x-content-type-options"]).toBe("nosniff");
    expect(call(bundle, "/ui/assets/other.js").status).toBe(404);
    // A path is only ever a key of the in-memory table: nothing outside the build is reachable.
    expect(call(bundle, "/ui/../../etc/passwd.txt").status).toBe(404);
    expect(call(bundle, "/ui/../../etc/passwd").body).toContain("console");
  });

  it("serves the page for client-side routes, the API reference at /docs, no body to HEAD", () => {
    expect(call(bundle, "/ui/instances").body).toContain("console");
    expect(call(bundle, "/docs").body).toContain("docs");
    const head = call(bundle, "/ui", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("answers 503 with how to build it when the console is not built", () => {
    const res = call(undefined, "/ui");
    expect(res.status).toBe(503);
    expect(res.body).toContain("npm run build -w @berth/console");
  });
});
