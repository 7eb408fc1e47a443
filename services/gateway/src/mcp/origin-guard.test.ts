import { describe, expect, it } from "vitest";
import { createOriginGuard } from "./origin-guard.js";

describe("MCP DNS-rebinding guard", () => {
  const guard = createOriginGuard({
    allowedOrigins: ["https://console.example.com"],
    allowedHosts: ["berth.internal"],
    loopbackOnly: true,
  });
  const status = (headers: Record<string, string>) => guard(headers)?.status ?? 200;

  it("lets non-browser clients (no Origin) and loopback or allowed origins through", () => {
    expect(status({ host: "127.0.0.1:8080" })).toBe(200);
    expect(status({ host: "localhost:8080", origin: "http://localhost:5173" })).toBe(200);
    expect(status({ host: "[::1]:8080", origin: "http://[::1]:3000" })).toBe(200);
    expect(status({ host: "127.0.0.1", origin: "https://console.example.com/" })).toBe(200);
    expect(status({ host: "berth.internal:8080" })).toBe(200);
    expect(status({ ":authority": "127.0.0.1:8080" })).toBe(200);
  });

  it("refuses a foreign Origin and, on a loopback gateway, a foreign Host with 403", () => {
    expect(status({ host: "127.0.0.1:8080", origin: "http://evil.example.com" })).toBe(403);
    expect(status({ host: "127.0.0.1:8080", origin: "null" })).toBe(403);
    expect(status({ host: "evil.example.com" })).toBe(403);
    expect(status({ host: "localhost.evil.example.com:8080" })).toBe(403);
    expect(status({})).toBe(403);
  });

  it("checks only the Origin when the gateway listens beyond loopback", () => {
    const open = createOriginGuard({ allowedOrigins: [], allowedHosts: [], loopbackOnly: false });
    expect(open({ host: "berth.example.com" })).toBeUndefined();
    expect(open({ host: "berth.example.com", origin: "http://evil.example.com" })?.status).toBe(
      403,
    );
  });
});
