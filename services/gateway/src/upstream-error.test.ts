import { Code, ConnectError, dependencyUnavailable } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { edgeHeaders, toEdgeError } from "./edge-headers.js";
import { fromUpstream } from "./upstream-error.js";

describe("upstream errors at the edge", () => {
  it("a service that is down is UNAVAILABLE naming it, without its address, with Retry-After", () => {
    const down = new ConnectError("connect ECONNREFUSED 127.0.0.1:50052", Code.Unavailable);
    const error = toEdgeError(fromUpstream(down, "instances", false));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("the instances service is unavailable");
    expect(error.metadata.get("retry-after")).toBe("1");
  });

  it("a service lost mid-call is UNAVAILABLE, but the caller's own cancel stays CANCELED", () => {
    const reset = new ConnectError("http/2 stream closed with error code CANCEL", Code.Canceled);
    expect(fromUpstream(reset, "registry", false).code).toBe(Code.Unavailable);
    expect(fromUpstream(reset, "registry", true).code).toBe(Code.Canceled);
  });

  it("keeps the message of a dependency outage the service reported", () => {
    const error = fromUpstream(dependencyUnavailable("database"), "registry", false);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("the database is unavailable");
    expect(edgeHeaders(error)).toEqual({ "retry-after": "1" });
  });

  it("a stream cut without a status is UNAVAILABLE; an INTERNAL the service sent stays a 500", () => {
    const cut = new ConnectError(
      "http/2 stream closed with error code INTERNAL_ERROR",
      Code.Internal,
    );
    expect(fromUpstream(cut, "runtime", false).code).toBe(Code.Unavailable);
  });

  it("hides internal messages and keeps client errors as they are", () => {
    const bug = fromUpstream(
      new ConnectError("null pointer at 10.0.0.1", Code.Internal, { "grpc-status": "13" }),
      "runtime",
      false,
    );
    expect(bug.rawMessage).toBe("runtime: internal error");
    const notFound = fromUpstream(
      new ConnectError('instance "x" not found', Code.NotFound),
      "instances",
      false,
    );
    expect(notFound.rawMessage).toBe('instance "x" not found');
  });

  it("challenges a 401 and passes a 429's wait", () => {
    expect(edgeHeaders(new ConnectError("no key", Code.Unauthenticated))).toEqual({
      "www-authenticate": 'Bearer realm="berth"',
    });
    const limited = new ConnectError("slow down", Code.ResourceExhausted, { "retry-after": "3" });
    expect(edgeHeaders(limited)).toEqual({ "retry-after": "3" });
  });
});
