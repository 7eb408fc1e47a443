import { describe, expect, it } from "vitest";
import { idlePolicyOf } from "./idle-policy.js";
import { checkJsonSpec, readJsonSpec } from "./json-spec.js";
import { createProblems } from "./problems.js";

const problemsOf = (json: unknown) => {
  const problems = createProblems();
  checkJsonSpec(json, "json_spec", problems);
  return problems.list;
};
const docker = (idle: unknown) => ({ type: "docker", image: "x:1", idle });

describe("json_spec.idle", () => {
  it("reads timeout and wake_timeout as milliseconds", () => {
    const read = readJsonSpec(docker({ timeout: 600, wake_timeout: 30 }));
    expect(read.ok && read.spec.type === "docker" && read.spec.idle).toEqual({
      timeoutMs: 600_000,
      wakeTimeoutMs: 30_000,
    });
  });

  it("accepts 0 as never idle, and leaves the policy undefined when absent", () => {
    expect(problemsOf(docker({ timeout: 0 }))).toEqual([]);
    const read = readJsonSpec({ type: "docker", image: "x:1" });
    expect(read.ok && read.spec.type === "docker" && read.spec.idle).toBeUndefined();
  });

  it("names each bad field", () => {
    expect(problemsOf(docker({ timeout: -1, wake_timeout: 0, after: 3 }))).toEqual([
      { field: "json_spec.idle.after", description: "is not a field of the idle policy" },
      {
        field: "json_spec.idle.timeout",
        description: "must be a whole number of seconds from 0 (never idle) to 2592000",
      },
      {
        field: "json_spec.idle.wake_timeout",
        description: "must be a whole number of seconds from 1 to 600",
      },
    ]);
    expect(problemsOf(docker(30)).map((p) => p.field)).toEqual(["json_spec.idle"]);
    expect(problemsOf(docker({ timeout: 1.5 })).map((p) => p.field)).toEqual([
      "json_spec.idle.timeout",
    ]);
  });

  it("is refused on a url spec: url instances are never idled", () => {
    const problems = problemsOf({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      idle: { timeout: 60 },
    });
    expect(problems).toEqual([
      {
        field: "json_spec.idle",
        description: "is not allowed: url instances are never idled (nothing runs here)",
      },
    ]);
  });
});

describe("idlePolicyOf", () => {
  it("takes the spec's fields first, then the deployment's", () => {
    expect(idlePolicyOf({ timeoutMs: 5_000 }, { timeoutMs: 0, wakeTimeoutMs: 9_000 })).toEqual({
      timeoutMs: 5_000,
      wakeTimeoutMs: 9_000,
    });
    expect(idlePolicyOf(undefined, { timeoutMs: 60_000 })).toEqual({
      timeoutMs: 60_000,
      wakeTimeoutMs: 60_000,
    });
    expect(idlePolicyOf({ timeoutMs: 0 }, { timeoutMs: 60_000 }).timeoutMs).toBe(0);
  });
});
