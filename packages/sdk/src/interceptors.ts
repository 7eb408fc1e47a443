import type { Interceptor } from "@connectrpc/connect";

/** Adds the API key to every call. */
export function apiKeyInterceptor(apiKey: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
}

/**
 * Adds an OAuth access token to every call: a fixed one, or the one `token()` returns at the
 * time of the call (so a caller that refreshes its tokens hands the fresh one in).
 */
export function bearerTokenInterceptor(
  token: string | (() => string | Promise<string>),
): Interceptor {
  return (next) => async (request) => {
    const value = typeof token === "string" ? token : await token();
    request.header.set("authorization", `Bearer ${value}`);
    return next(request);
  };
}
