import { InstanceStatus, McpServerInstanceSchema, UpstreamCircuit } from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { Context } from "../types.js";
import { idleText, printInstance, upstreamText } from "./instance-view.js";

describe("printInstance", () => {
  it("shows secret references as (secret) and plain values as they are", () => {
    const out: string[] = [];
    const ctx = { io: { out: (text: string) => out.push(text) }, output: "table", url: "" };
    const instance = create(McpServerInstanceSchema, {
      name: "vault-1",
      jsonSpec: {
        type: "docker",
        image: "berth/vault:1",
        environment: { API_KEY: "secret_ref:i-1:API_KEY", REGION: "eu" },
      },
    });
    printInstance(ctx as unknown as Context, instance);
    const text = out.join("\n");
    expect(text).toContain("API_KEY=(secret)");
    expect(text).toContain("REGION=eu");
    expect(text).not.toContain("secret_ref:");
  });
});

describe("the idle policy", () => {
  it("shows the status IDLE, the timeout, the last request and the next deadline", () => {
    const out: string[] = [];
    const ctx = { io: { out: (text: string) => out.push(text) }, output: "table", url: "" };
    const instance = create(McpServerInstanceSchema, {
      name: "sleepy",
      status: InstanceStatus.IDLE,
      idle: {
        timeoutSeconds: 600,
        lastRequestTime: { seconds: 1_800_000_000n, nanos: 0 },
        idleTime: { seconds: 1_800_000_600n, nanos: 0 },
      },
    });
    printInstance(ctx as unknown as Context, instance);
    const text = out.join("\n");
    expect(text).toMatch(/status:\s+IDLE/);
    expect(text).toMatch(/idle:\s+after 600s without MCP traffic/);
    expect(text).toMatch(/last request:\s+\S+/);
    expect(text).toMatch(/idle at:\s+\S+/);
    expect(idleText(undefined)).toBe("");
  });
});

describe("upstreamText", () => {
  it("says the circuit state, since when it is open, and the failures", () => {
    expect(upstreamText(undefined)).toBe("");
    const open = upstreamText({
      circuit: UpstreamCircuit.OPEN,
      consecutiveFailures: 5,
      lastErrorCode: "ECONNREFUSED",
      openTime: { seconds: 1_800_000_000n, nanos: 0 },
    } as never);
    expect(open).toMatch(/^OPEN since .+ \(5 failures in a row, last ECONNREFUSED\)$/);
    expect(upstreamText({ circuit: UpstreamCircuit.CLOSED, consecutiveFailures: 0 } as never)).toBe(
      "CLOSED",
    );
  });
});
