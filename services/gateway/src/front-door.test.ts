import type { Logger } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { createFrontDoor, type Handler } from "./front-door.js";
import type { HttpRequest, HttpResponse } from "./http/types.js";

const silent = { error: () => undefined } as unknown as Logger;

function fakeResponse() {
  const res = {
    statusCode: 200,
    headersSent: false,
    body: "",
    writeHead(status: number) {
      res.statusCode = status;
      res.headersSent = true;
    },
    end(text = "") {
      res.body = text;
    },
  };
  return res;
}

describe("front door", () => {
  const served: string[] = [];
  const handler =
    (name: string): Handler =>
    () =>
      void served.push(name);
  const door = createFrontDoor({
    edge: (req) => req.method === "OPTIONS",
    routes: [
      { name: "health", methods: ["GET"], paths: ["/healthz"], handle: handler("health") },
      { name: "mcp", paths: ["/mcp"], prefixes: ["/mcp/"], handle: handler("mcp") },
      { name: "rpc", serves: (path) => path === "/pkg.Svc/Do", handle: handler("rpc") },
      {
        name: "broken",
        paths: ["/broken"],
        handle: () => {
          throw new Error("bug");
        },
      },
    ],
    fallback: handler("rest"),
    logger: silent,
  });
  const call = (method: string, url: string) => {
    const res = fakeResponse();
    door({ method, url } as HttpRequest, res as unknown as HttpResponse);
    return res;
  };

  it("sends each request to the first row that takes it, else to the fallback", () => {
    served.length = 0;
    call("GET", "/healthz?x=1");
    call("POST", "/healthz");
    call("POST", "/mcp/everything");
    call("GET", "/mcp");
    call("GET", "/mcpx");
    call("POST", "/pkg.Svc/Do");
    call("POST", "/pkg.Svc/Other");
    call("OPTIONS", "/mcp/everything"); // Answered by the edge (CORS preflight).
    expect(served).toEqual(["health", "rest", "mcp", "mcp", "rest", "rpc", "rest"]);
  });

  it("answers 500 when a handler throws, and keeps serving", () => {
    const res = call("GET", "/broken");
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({
      error: { code: 500, status: "INTERNAL", message: "internal error" },
    });
    served.length = 0;
    call("GET", "/healthz");
    expect(served).toEqual(["health"]);
  });
});
