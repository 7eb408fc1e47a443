import { McpServerInstanceSchema, UpstreamCircuit } from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { Context } from "../types.js";
import { printInstance, upstreamText } from "./instance-view.js";

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
