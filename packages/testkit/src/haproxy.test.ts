import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findExecutable, searchDirs } from "./engine-binaries.js";
import { haproxyConfig } from "./haproxy.js";

const haproxy = findExecutable("haproxy", searchDirs());
const check = (file: string) => spawnSync(haproxy!, ["-c", "-f", file], { encoding: "utf8" });

describe("haproxyConfig", () => {
  const ports = [
    {
      name: "gateway",
      bind: "127.0.0.1:8080",
      readiness: "/readyz",
      servers: [
        { name: "gateway-1", address: "127.0.0.1:8081" },
        { name: "gateway-2", address: "127.0.0.1:8082" },
      ],
    },
    {
      name: "registry",
      bind: "127.0.0.1:50051",
      servers: [{ name: "registry-1", address: "127.0.0.1:51051" }],
    },
  ];

  it("checks gateways on /readyz and keeps them as backups, internal services by TCP", () => {
    const config = haproxyConfig(ports);
    expect(config).toContain("mode tcp");
    expect(config).toContain("option httpchk GET /readyz");
    expect(config).toContain("server gateway-2 127.0.0.1:8082 check");
    expect(config).toContain("server gateway-2-unready 127.0.0.1:8082 backup");
    expect(config).toContain("server registry-1 127.0.0.1:51051 check");
    // Streams outlive any request timeout.
    expect(config).toMatch(/timeout client 1h/);
  });

  it.skipIf(!haproxy)(
    "is a configuration haproxy accepts, as is deploy/haproxy/haproxy.cfg",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "berth-haproxy-"));
      try {
        const file = join(dir, "haproxy.cfg");
        writeFileSync(file, haproxyConfig(ports));
        const generated = check(file);
        expect(generated.status, generated.stderr).toBe(0);
        const deployed = check(
          fileURLToPath(new URL("../../../deploy/haproxy/haproxy.cfg", import.meta.url)),
        );
        expect(deployed.status, deployed.stderr).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
