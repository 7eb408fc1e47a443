import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** One check of a scenario, as the suite writes it to checks.json. */
export interface ConformanceCheck {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
}

/** The checks of every scenario of one run of the suite, by scenario name. */
export interface ConformanceRun {
  url: string;
  scenarios: Map<string, ConformanceCheck[]>;
  /** Checks that passed and checks that counted (SUCCESS or FAILURE), as the suite counts them. */
  passed: number;
  total: number;
  /** The suite's own console output, for failure messages. */
  output: string;
}

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(
  createRequire(import.meta.url).resolve("@modelcontextprotocol/conformance/package.json"),
  "..",
  "dist",
  "index.js",
);
const PRELOAD = fileURLToPath(new URL("./auth-preload.ts", import.meta.url));
/** A result folder is `server-<scenario>-<ISO time with - for : and .>`. */
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
/** The active suite takes about 20 s on an idle machine; this bounds a hung scenario. */
const RUN_TIMEOUT_MS = 150_000;

/**
 * Runs the suite's CLI (`conformance server --url`, active suite) against url and reads back
 * every scenario's checks.json. With authorization, the preload adds that header to the
 * suite's requests for url's origin. A scenario that crashed the CLI has no checks.json; it is
 * recorded as one FAILURE check so that it counts against the run.
 */
export async function runConformance(
  url: string,
  options: { authorization?: string; scenario?: string } = {},
): Promise<ConformanceRun> {
  const outDir = await mkdtemp(join(tmpdir(), "berth-conformance-"));
  try {
    const args = [
      "--import",
      "tsx",
      "--import",
      PRELOAD,
      CLI,
      "server",
      "--url",
      url,
      "-o",
      outDir,
    ];
    if (options.scenario) args.push("--scenario", options.scenario);
    const output = await runCli(args, {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      ...(options.authorization
        ? {
            BERTH_CONFORMANCE_AUTHORIZATION: options.authorization,
            BERTH_CONFORMANCE_ORIGIN: new URL(url).origin,
          }
        : {}),
    });
    const scenarios = new Map<string, ConformanceCheck[]>();
    for (const entry of await readdir(outDir)) {
      const scenario = RESULT_DIR.exec(entry)?.[1];
      if (!scenario) continue;
      const checks = JSON.parse(
        await readFile(join(outDir, entry, "checks.json"), "utf8"),
      ) as ConformanceCheck[];
      scenarios.set(scenario, checks);
    }
    for (const crashed of crashedScenarios(output)) {
      if (!scenarios.has(crashed))
        scenarios.set(crashed, [{ id: crashed, status: "FAILURE", errorMessage: "crashed" }]);
    }
    const all = [...scenarios.values()].flat();
    return {
      url,
      scenarios,
      passed: all.filter((c) => c.status === "SUCCESS").length,
      total: all.filter((c) => c.status === "SUCCESS" || c.status === "FAILURE").length,
      output,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/**
 * What regressed from baseline to run: for every scenario whose checks all passed in the
 * baseline, each check that is not SUCCESS in run (or missing from it), one line per scenario.
 */
export function regressions(baseline: ConformanceRun, run: ConformanceRun): string[] {
  const lines: string[] = [];
  for (const [scenario, expected] of baseline.scenarios) {
    if (expected.some((check) => check.status === "FAILURE")) continue;
    const actual = run.scenarios.get(scenario);
    if (!actual) {
      lines.push(`${scenario}: did not run`);
      continue;
    }
    const failed: string[] = [];
    for (const check of actual) {
      if (check.status === "FAILURE") failed.push(`${check.id}: ${check.errorMessage ?? "failed"}`);
    }
    for (const check of expected) {
      if (check.status !== "SUCCESS") continue;
      if (!actual.some((c) => c.id === check.id && c.status === "SUCCESS")) {
        if (!actual.some((c) => c.id === check.id && c.status === "FAILURE"))
          failed.push(
            `${check.id}: not SUCCESS (${actual.find((c) => c.id === check.id)?.status ?? "missing"})`,
          );
      }
    }
    if (failed.length > 0) lines.push(`${scenario}: ${failed.join("; ")}`);
  }
  return lines;
}

/** Per-scenario pass counts of a run, one line each, for reports. */
export function scenarioLines(run: ConformanceRun): string[] {
  return [...run.scenarios].map(([scenario, checks]) => {
    const passed = checks.filter((c) => c.status === "SUCCESS").length;
    const failed = checks.filter((c) => c.status === "FAILURE");
    const why = failed.map((c) => ` [${c.id}: ${c.errorMessage ?? "failed"}]`).join("");
    return `${failed.length === 0 ? "ok  " : "FAIL"} ${scenario}: ${passed} passed, ${failed.length} failed${why}`;
  });
}

/** Scenarios the CLI reports as "Failed to run scenario <name>:". */
function crashedScenarios(output: string): string[] {
  return [...output.matchAll(/Failed to run scenario (\S+):/g)].map((m) => m[1]!);
}

function runCli(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // The CLI exits 1 when any check failed: the checks say which, so any exit is an answer;
    // only a kill (the timeout) is not.
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal)
        reject(
          new Error(
            `conformance CLI killed (${signal}) after ${RUN_TIMEOUT_MS} ms:\n${output.slice(-2000)}`,
          ),
        );
      else resolve(output);
      void code;
    });
  });
}
