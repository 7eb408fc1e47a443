import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { withCorrelationId } from "../context/request-context.js";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes the service name and correlation id on every line", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "registry", destination });
    withCorrelationId("corr-1", () => logger.info("hello"));
    expect(lines[0]).toMatchObject({
      service: "registry",
      correlation_id: "corr-1",
      msg: "hello",
      level: "info",
    });
  });

  it("redacts secret-bearing fields", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "instances", destination });
    logger.info(
      {
        secrets: { API_KEY: "sk-live-123" },
        req: { headers: { authorization: "Bearer abc" } },
        password: "pw",
      },
      "x",
    );
    const text = JSON.stringify(lines);
    for (const secret of ["sk-live-123", "Bearer abc", '"pw"']) expect(text).not.toContain(secret);
  });
});
