import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { findFreePort, waitForPort } from "@berth/testkit/engines";

/** The conformance fixture over Streamable HTTP on 127.0.0.1, as its own process. */
export interface FixtureProcess {
  url: string;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("../../fixtures/conformance-server/main.ts", import.meta.url));
const READY_MS = 30_000;
const STOP_MS = 5_000;

/** Starts test/fixtures/conformance-server in HTTP mode on a free loopback port. */
export async function startFixture(): Promise<FixtureProcess> {
  const port = await findFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "http"], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stop = () => stopChild(child);
  if (!(await waitForPort(port, READY_MS))) {
    await stop();
    throw new Error(`the conformance fixture did not listen on ${port}: ${stderr.slice(-1000)}`);
  }
  return { url: `http://127.0.0.1:${port}/mcp`, stop };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_MS);
  await exited;
  clearTimeout(timer);
}
