import { createRequire } from "node:module";

// The conformance CLI (0.1.11) has no option for request headers: its scenarios build their
// clients as `new StreamableHTTPClientTransport(new URL(url))` and send raw checks with the
// global fetch and undici's request(). Preloaded with `--import` into the CLI's process, this adds
// `authorization` (BERTH_CONFORMANCE_AUTHORIZATION) to every request for the origin under test
// (BERTH_CONFORMANCE_ORIGIN) and to nothing else, so that the suite reaches the gateway's
// /mcp/{instance} with an API key and no extra hop in between.
const authorization = process.env.BERTH_CONFORMANCE_AUTHORIZATION;
const origin = process.env.BERTH_CONFORMANCE_ORIGIN;

function targets(url: string | URL): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

if (authorization && origin) {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : input;
    if (!targets(url)) return originalFetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}));
    if (!headers.has("authorization")) headers.set("authorization", authorization);
    return originalFetch(input, { ...init, headers });
  };

  // The CLI imports undici's request() by name; patched on the CommonJS exports before the CLI
  // loads, the ESM import sees the wrapper.
  const cli = createRequire(import.meta.url).resolve(
    "@modelcontextprotocol/conformance/package.json",
  );
  const undici = createRequire(cli)("undici") as {
    request: (url: string | URL, options?: { headers?: Record<string, string> }) => unknown;
  };
  const originalRequest = undici.request;
  undici.request = (url, options = {}) =>
    targets(url)
      ? originalRequest(url, { ...options, headers: { ...options.headers, authorization } })
      : originalRequest(url, options);
}
