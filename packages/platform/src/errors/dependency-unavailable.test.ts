import { describe, expect, it } from "vitest";
import {
  dependencyUnavailable,
  isDatabaseUnavailable,
  unavailableDependencyOf,
} from "./dependency-unavailable.js";
import { Code, ConnectError } from "./errors.js";
import { toConnectError } from "./status.js";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });
const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe("database outages", () => {
  it.each([
    ["connection refused", withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
    ["admin shutdown", withCode("57P01", "terminating connection due to administrator command")],
    ["cannot connect now", withCode("57P03", "the database system is starting up")],
    ["connection exception class 08", withCode("08006")],
    ["too many connections", withCode("53300")],
    ["knex pool timeout", named("KnexTimeoutError", "Knex: Timeout acquiring a connection.")],
    ["MikroORM connection exception", named("ConnectionException", "connect failed")],
    ["pg socket closed", new Error("Connection terminated unexpectedly")],
    [
      "a transaction whose connection the server ended",
      named(
        "DriverException",
        "Transaction query already complete, run with DEBUG=knex:tx for more info",
      ),
    ],
    ["wrapped cause", new Error("query failed", { cause: withCode("ECONNRESET") })],
  ])("maps %s to UNAVAILABLE naming the database, with Retry-After", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    const mapped = toConnectError(error);
    expect(mapped.code).toBe(Code.Unavailable);
    expect(mapped.rawMessage).toBe("the database is unavailable");
    expect(mapped.metadata.get("retry-after")).toBe("1");
    expect(unavailableDependencyOf(mapped)).toBe("database");
  });

  it.each([
    ["syntax error", withCode("42601", 'syntax error at or near "SELEC"')],
    ["value too long", withCode("22001", "value too long for type character varying(2048)")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
    ["not an error", "oops"],
  ])("keeps %s INTERNAL without its message", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    const mapped = toConnectError(error);
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe("internal error");
  });

  it("tells a dependency outage from any other UNAVAILABLE", () => {
    expect(unavailableDependencyOf(dependencyUnavailable("bus"))).toBe("bus");
    expect(unavailableDependencyOf(new ConnectError("down", Code.Unavailable))).toBeUndefined();
    expect(unavailableDependencyOf(new ConnectError("x", Code.Internal))).toBeUndefined();
  });
});
