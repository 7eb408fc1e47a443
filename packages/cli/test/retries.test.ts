import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "./support/run-berth.js";

// A gateway that keeps answering 503: the CLI retries (through the SDK) and then says it gave up.
describe("berth against an unavailable gateway", () => {
  let server: Server;
  let url = "";
  const requestIds: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      req.on("end", () => {
        requestIds.push((JSON.parse(body || "{}") as { requestId?: string }).requestId ?? "");
        res.writeHead(503, { "content-type": "application/json", "retry-after": "0" });
        res.end(JSON.stringify({ code: "unavailable", message: "instances service unavailable" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("retries a write with one request id, then prints one line saying it gave up", async () => {
    const run = await runBerth(["instances", "stop", "weather", "--retries", "2"], {
      url,
      apiKey: "berth_0123456789abcdef_x",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^berth: UNAVAILABLE: .*instances service unavailable \(gave up after 3 attempts\)\n$/,
    );
    expect(requestIds).toHaveLength(3);
    expect(requestIds[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(requestIds).size).toBe(1);
  });

  it("tries once with --retries 0 and refuses a bad --retries", async () => {
    requestIds.length = 0;
    const once = await runBerth(["servers", "get", "x", "--retries", "0"], { url });
    expect(once.code).toBe(1);
    expect(requestIds).toHaveLength(1);
    const bad = await runBerth(["servers", "get", "x", "--retries", "many"], { url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--retries/);
  });
});
