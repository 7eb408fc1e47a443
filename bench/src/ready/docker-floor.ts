import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The floor of one start: `docker run -i` of the image, then the server's own answers. */
export interface FloorRun {
  /** From spawning docker run to the answer to initialize. */
  initializeMs: number;
  /** From spawning docker run to the answer to tools/list (what Berth's health probe waits for). */
  toolsMs: number;
}

const ANSWER_TIMEOUT_MS = 60_000;

/**
 * `docker run -i --rm` of the image (labelled with the run id), an MCP initialize written at once
 * (docker attaches stdin before the start), then initialized and tools/list. The container ends
 * with its stdin; it is removed by force if it lingers.
 */
export async function dockerFloorRun(
  image: string,
  runId: string,
  name: string,
): Promise<FloorRun> {
  const began = performance.now();
  const child = spawn(
    "docker",
    ["run", "-i", "--rm", "--name", name, "--label", `berth.bench=${runId}`, image],
    { stdio: ["pipe", "pipe", "ignore"] },
  );
  const answers = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
      const id = (() => {
        try {
          return (JSON.parse(line) as { id?: unknown }).id;
        } catch {
          return undefined;
        }
      })();
      if (typeof id === "number" && !answers.has(id)) {
        answers.set(id, performance.now() - began);
        waiters.get(id)?.();
      }
    }
  });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`docker run ${image} exited (${String(code)}) before answering`);
  });
  exited.catch(() => undefined);
  const answerTo = (id: number) => Promise.race([exited, answerOf(id)]);
  const answerOf = (id: number) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${image} did not answer request ${id}`)),
        ANSWER_TIMEOUT_MS,
      );
      const done = () => {
        clearTimeout(timer);
        resolve(answers.get(id)!);
      };
      if (answers.has(id)) done();
      else waiters.set(id, done);
    });
  const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`);
  try {
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "berth-bench", version: "1.0.0" },
      },
    });
    const initializeMs = await answerTo(1);
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const toolsMs = await answerTo(2);
    return { initializeMs, toolsMs };
  } finally {
    child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited.catch(() => undefined);
    clearTimeout(timer);
    await run("docker", ["rm", "-f", name]).catch(() => undefined);
  }
}
