import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create, type DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { requestIdInterceptor } from "./request-id.js";
import { backoffDelay, parseRetryAfter, retryInterceptor } from "./retry.js";

type Next = (request: UnaryRequest) => Promise<UnaryResponse>;

/** A unary request as the transport hands it to interceptors. */
function requestOf(
  method: DescMethodUnary,
  message: object,
  signal = new AbortController().signal,
) {
  return {
    stream: false,
    service: method.parent,
    method,
    requestMethod: "POST",
    url: "http://gateway.test",
    header: new Headers(),
    signal,
    contextValues: undefined,
    message: create(method.input, message as never),
  } as unknown as UnaryRequest;
}

/** A backend that fails with the given errors in turn, then answers; it records what it saw. */
function backend(failures: ConnectError[]) {
  const seen: UnaryRequest[] = [];
  const next: Next = async (request) => {
    seen.push(request);
    const failure = failures.shift();
    if (failure) throw failure;
    return { message: {} } as UnaryResponse;
  };
  return { next, seen };
}

const unavailable = (retryAfter?: string) =>
  new ConnectError(
    "instances service unavailable",
    Code.Unavailable,
    retryAfter ? new Headers({ "retry-after": retryAfter }) : undefined,
  );
const createCall = InstancesService.method.createInstance as unknown as DescMethodUnary;
const fast = { baseDelayMs: 1, maxDelayMs: 5 };

describe("backoffDelay", () => {
  it("grows a full-jitter window exponentially up to the cap", () => {
    const top = () => 1;
    expect(
      [1, 2, 3, 4, 8].map((n) => backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 1000 }, top)),
    ).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0)).toBe(0);
    expect(backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.5)).toBe(200);
  });

  it("waits what Retry-After asks, within the cap", () => {
    expect(backoffDelay(1, { baseDelayMs: 100, maxDelayMs: 10_000, retryAfterMs: 2000 })).toBe(
      2000,
    );
    expect(backoffDelay(1, { baseDelayMs: 100, maxDelayMs: 1000, retryAfterMs: 60_000 })).toBe(
      1000,
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP dates, and ignores anything else", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-1")).toBeUndefined();
  });
});

describe("retryInterceptor with requestIdInterceptor", () => {
  const chain = (next: Next, options = {}) => {
    let ids = 0;
    const withRetry = retryInterceptor({ ...fast, ...options })(next as never);
    return requestIdInterceptor(() => `00000000-0000-4000-8000-00000000000${++ids}`)(withRetry);
  };

  it("retries a write on UNAVAILABLE with one request id on every attempt", async () => {
    const { next, seen } = backend([unavailable(), unavailable()]);
    await chain(next)(requestOf(createCall, { instance: { name: "a" } }));
    expect(seen).toHaveLength(3);
    const ids = seen.map((r) => (r.message as unknown as { requestId: string }).requestId);
    expect(new Set(ids)).toEqual(new Set(["00000000-0000-4000-8000-000000000001"]));
  });

  it("keeps a request id the caller chose", async () => {
    const { next, seen } = backend([]);
    const mine = "5b0c0a3e-8f2d-4d7a-9b1e-3c4d5e6f7a8b";
    await chain(next)(requestOf(createCall, { instance: { name: "a" }, requestId: mine }));
    expect((seen[0]!.message as unknown as { requestId: string }).requestId).toBe(mine);
  });

  it("gives up after maxAttempts, saying so, with the last error's code", async () => {
    const { next, seen } = backend([unavailable(), unavailable(), unavailable()]);
    const error = (await chain(next, { maxAttempts: 3 })(requestOf(createCall, {})).catch(
      (e: unknown) => e,
    )) as ConnectError;
    expect(seen).toHaveLength(3);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("instances service unavailable (gave up after 3 attempts)");
  });

  it("does not retry other errors", async () => {
    const { next, seen } = backend([new ConnectError("taken", Code.AlreadyExists)]);
    await expect(chain(next)(requestOf(createCall, {}))).rejects.toThrow("taken");
    expect(seen).toHaveLength(1);
  });

  it("does not repeat a write that carries no request id (requestIds turned off)", async () => {
    const { next, seen } = backend([unavailable()]);
    const alone = retryInterceptor(fast)(next as never);
    const error = (await alone(requestOf(createCall, {})).catch((e: unknown) => e)) as ConnectError;
    expect(error.code).toBe(Code.Unavailable);
    expect(seen).toHaveLength(1);
  });

  it("retries reads, which need no request id", async () => {
    const { next, seen } = backend([unavailable()]);
    const read = InstancesService.method.getInstance as unknown as DescMethodUnary;
    await retryInterceptor(fast)(next as never)(requestOf(read, { id: "a" }));
    expect(seen).toHaveLength(2);
  });

  it("honours Retry-After", async () => {
    const { next, seen } = backend([unavailable("1")]);
    const started = Date.now();
    await chain(next, { maxDelayMs: 5_000 })(requestOf(createCall, {}));
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("stops waiting when the call's deadline passes, with the last error", async () => {
    const controller = new AbortController();
    const { next, seen } = backend([unavailable("5")]);
    setTimeout(() => controller.abort(), 50);
    const error = (await chain(next, { maxDelayMs: 10_000 })(
      requestOf(createCall, {}, controller.signal),
    ).catch((e: unknown) => e)) as ConnectError;
    expect(seen).toHaveLength(1);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(/gave up after 1 attempt\)/);
  });
});
