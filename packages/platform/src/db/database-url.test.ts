import { describe, expect, it } from "vitest";
import { StartupError } from "../service/startup-error.js";
import { connectionProblem, describeTarget, parseDatabaseUrl } from "./database-url.js";

describe("database URL", () => {
  it("reads host, port and database", () => {
    const target = parseDatabaseUrl("postgres://berth:pw@db.local:6543/berth_dev");
    expect(describeTarget(target)).toBe("db.local:6543/berth_dev");
    expect(parseDatabaseUrl("postgresql://u@127.0.0.1/x").port).toBe(5432);
  });

  it.each([
    ["postgres://u:topsecret@host:port/db", "DATABASE_URL: not a valid URL"],
    ["http://u:topsecret@host/db", 'DATABASE_URL: unsupported scheme "http"'],
    ["postgres://u:topsecret@host:5432", "DATABASE_URL: no database name"],
    ["topsecret", "DATABASE_URL: not a valid URL"],
  ])("refuses %s in one line without the password", (url, start) => {
    let error: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StartupError);
    const message = (error as Error).message;
    expect(message.startsWith(start)).toBe(true);
    expect(message).not.toContain("topsecret");
    expect(message).not.toContain("\n");
  });

  it("describes a failure by its code and scrubs the password from driver messages", () => {
    expect(
      connectionProblem(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })),
    ).toBe("ECONNREFUSED");
    const auth = Object.assign(new Error('password "pw123" rejected\nmore'), { code: "28P01" });
    expect(connectionProblem(auth, "pw123")).toBe('password "[redacted]" rejected, SQLSTATE 28P01');
    expect(connectionProblem(new Error("Connection terminated due to connection timeout"))).toBe(
      "timed out",
    );
  });
});
