import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Removes every container and network labelled berth.bench=<runId>; returns how many. */
export async function removeRunObjects(runId: string): Promise<number> {
  const filter = `label=berth.bench=${runId}`;
  const list = async (args: string[]) =>
    (await run("docker", [...args, "--filter", filter], { timeout: 30_000 })).stdout
      .split("\n")
      .filter(Boolean);
  let removed = 0;
  try {
    const containers = await list(["ps", "-aq"]);
    if (containers.length > 0)
      await run("docker", ["rm", "-f", ...containers], { timeout: 60_000 });
    const networks = await list(["network", "ls", "-q"]);
    if (networks.length > 0)
      await run("docker", ["network", "rm", ...networks], { timeout: 60_000 });
    removed = containers.length + networks.length;
  } catch {
    // Docker is unreachable: nothing of ours can be running there either
  }
  return removed;
}
