import { describe, expect, it } from "vitest";
import { answersOf, argumentsDigest, type McpExchangeEnd, readMcpRequest } from "./mcp-exchange.js";

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const end = (over: Partial<McpExchangeEnd>): McpExchangeEnd => ({
  status: 200,
  byGateway: false,
  complete: true,
  contentType: "application/json",
  body: undefined,
  ...over,
});

describe("readMcpRequest", () => {
  it("keeps method, tool and a digest of the arguments, never their values", () => {
    const [call] = readMcpRequest(
      json({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "echo", arguments: { b: 2, a: "s3cret" } },
      }),
    )!;
    expect(call).toEqual({
      id: 7,
      method: "tools/call",
      tool: "echo",
      argumentsDigest: argumentsDigest({ a: "s3cret", b: 2 }),
    });
    expect(JSON.stringify(call)).not.toContain("s3cret");
  });

  it("digests equal arguments equally whatever their key order, and different ones differently", () => {
    expect(argumentsDigest({ a: 1, b: [1, { d: 1, c: 2 }] })).toBe(
      argumentsDigest({ b: [1, { c: 2, d: 1 }], a: 1 }),
    );
    expect(argumentsDigest({ a: 1 })).not.toBe(argumentsDigest({ a: 2 }));
    expect(argumentsDigest({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it("reads batches and notifications, skips a client's responses, and refuses what is not JSON", () => {
    const batch = readMcpRequest(
      json([
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "2.0", id: "x", result: { content: [] } },
        { jsonrpc: "2.0", id: "y", method: "tools/list" },
      ]),
    );
    expect(batch?.map((m) => [m.id, m.method, m.argumentsDigest])).toEqual([
      [undefined, "notifications/initialized", undefined],
      ["y", "tools/list", undefined],
    ]);
    expect(readMcpRequest(Buffer.from("{not json"))).toBeUndefined();
  });
});

describe("answersOf", () => {
  const call = { id: 1, method: "tools/call", tool: "echo", argumentsDigest: undefined };

  it("reads the outcome of a JSON answer: result, JSON-RPC error, or a tool's own error", () => {
    expect(answersOf([call], end({ body: json({ jsonrpc: "2.0", id: 1, result: {} }) }))).toEqual([
      { outcome: "ok", errorCode: undefined },
    ]);
    const error = json({ jsonrpc: "2.0", id: 1, error: { code: -32602, message: "no tool" } });
    expect(answersOf([call], end({ body: error }))).toEqual([
      { outcome: "error", errorCode: "-32602" },
    ]);
    const toolError = json({ jsonrpc: "2.0", id: 1, result: { isError: true, content: [] } });
    expect(answersOf([call], end({ body: toolError }))[0]?.outcome).toBe("tool_error");
  });

  it("finds the answer among the events of a stream (progress first)", () => {
    const stream = [
      `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } })}\n\n`,
      `event: message\nid: 2\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32000, message: "x" } })}\n\n`,
    ].join("");
    expect(
      answersOf([call], end({ contentType: "text/event-stream", body: Buffer.from(stream) })),
    ).toEqual([{ outcome: "error", errorCode: "-32000" }]);
  });

  it("names the HTTP status when the gateway refused or the instance failed", () => {
    expect(answersOf([call], end({ status: 403, byGateway: true }))).toEqual([
      { outcome: "refused", errorCode: "http_403" },
    ]);
    expect(answersOf([call], end({ status: 503, byGateway: true }))).toEqual([
      { outcome: "failed", errorCode: "http_503" },
    ]);
    expect(answersOf([call], end({ status: 404, body: Buffer.from("gone") }))).toEqual([
      { outcome: "error", errorCode: "http_404" },
    ]);
  });

  it("calls an answer that never arrived failed, and an accepted notification ok", () => {
    expect(answersOf([call], end({ complete: false, contentType: "text/event-stream" }))).toEqual([
      { outcome: "failed", errorCode: "incomplete" },
    ]);
    const note = {
      id: undefined,
      method: "notifications/initialized",
      tool: undefined,
      argumentsDigest: undefined,
    };
    expect(answersOf([note], end({ status: 202 }))).toEqual([
      { outcome: "ok", errorCode: undefined },
    ]);
  });
});
