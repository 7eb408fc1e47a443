import { randomBytes } from "node:crypto";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeLeftovers } from "../../services/runtime/test/support/runtime-harness.js";
import {
  BERTH_PATHS,
  type BerthPath,
  type ConformanceMesh,
  ensureConformanceImages,
  startConformanceMesh,
} from "./support/conformance-mesh.js";
import {
  type ConformanceRun,
  regressions,
  runConformance,
  scenarioLines,
} from "./support/conformance-run.js";
import { type FixtureProcess, startFixture } from "./support/fixture-process.js";

// The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.11, active server
// scenarios) against the conformance fixture reached directly, then through the gateway's
// /mcp/{instance} on every path an instance can take, and through /mcp/v/{name} of a virtual
// server whose only member is the fixture. Every scenario that passes directly must
// pass through Berth, on every run: a flaky scenario is a failure.
describe("MCP conformance through Berth", () => {
  const runId = `cf-${randomBytes(4).toString("hex")}`;
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let fixture: FixtureProcess;
  let berth: ConformanceMesh;
  let direct: ConformanceRun;
  const through = new Map<BerthPath, Promise<ConformanceRun>>();
  let virtual: Promise<ConformanceRun>;

  beforeAll(async () => {
    fixture = await startFixture();
    // The baseline runs while Berth starts; then the three paths run at once (each has its own
    // instance): together they take the time of about two runs.
    const baseline = runConformance(fixture.url);
    baseline.catch(() => undefined); // awaited below
    await ensureConformanceImages();
    engines = await useEngines();
    berth = await startConformanceMesh(engines, `berth.test=${runId}`, fixture);
    direct = await baseline;
    for (const path of BERTH_PATHS) {
      const run = runConformance(berth.urlOf(path), { authorization: berth.authorization });
      run.catch(() => undefined); // awaited (and reported) by the path's own test
      through.set(path, run);
    }
    // The virtual server's run follows the three (four at once overload a two-core machine).
    virtual = Promise.allSettled(through.values()).then(() =>
      runConformance(berth.virtualUrl, { authorization: berth.authorization }),
    );
    virtual.catch(() => undefined); // awaited (and reported) by its own test
  }, 240_000);
  afterAll(async () => {
    await Promise.allSettled([...through.values(), virtual]);
    await berth?.stop();
    await fixture?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("the fixture passes every check of the suite when reached directly", () => {
    expect(direct.scenarios.size, direct.output.slice(-3000)).toBeGreaterThanOrEqual(30);
    expect(scenarioLines(direct).filter((line) => line.startsWith("FAIL"))).toEqual([]);
    expect(direct.passed).toBe(direct.total);
  });

  for (const path of BERTH_PATHS) {
    it(`every scenario that passes directly passes through /mcp/{instance} to the ${path} instance`, async () => {
      const run = await through.get(path)!;
      const regressed = regressions(direct, run);
      expect(
        regressed,
        `${path}: ${run.passed}/${run.total} checks passed (directly ${direct.passed}/${direct.total})\n` +
          scenarioLines(run).join("\n"),
      ).toEqual([]);
      expect(run.passed).toBe(direct.passed);
    }, 200_000);
  }

  it("every scenario that passes directly passes through /mcp/v/{name}, a virtual server of the fixture alone", async () => {
    const run = await virtual;
    const regressed = regressions(direct, run);
    expect(
      regressed,
      `virtual: ${run.passed}/${run.total} checks passed (directly ${direct.passed}/${direct.total})\n` +
        scenarioLines(run).join("\n"),
    ).toEqual([]);
    expect(run.passed).toBe(direct.passed);
  }, 200_000);
});
