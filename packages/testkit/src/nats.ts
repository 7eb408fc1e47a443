import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { findNatsServer } from "./engine-binaries.js";
import { EngineStartError } from "./errors.js";
import { findFreePort, isPortListening } from "./free-port.js";
import { natsServerConfig } from "./nats-users.js";
import { lastLines, spawnEngine } from "./run-command.js";
import { hasExited, stopProcess } from "./stop-process.js";
import type { NatsHandle, NatsOptions } from "./types.js";

const READY_TIMEOUT_MS = 30_000;

/**
 * Starts nats-server with JetStream on 127.0.0.1 and waits until JetStream answers (for a
 * cluster node: until the cluster has elected its JetStream leader). It knows
 * only options.users (a config file beside the store, mode 0600, holds them): a client without
 * a user and password is refused.
 */
export async function startNats(options: NatsOptions): Promise<NatsHandle> {
  const binary = findNatsServer();
  const storeDir = resolve(options.storeDir);
  await mkdir(storeDir, { recursive: true });
  const port = options.port ?? (await findFreePort());
  if (await isPortListening(port)) {
    throw new EngineStartError(
      `nats-server cannot start: port ${port} on 127.0.0.1 is already in use`,
    );
  }
  const [probe] = options.users;
  if (!probe) throw new EngineStartError("nats-server needs at least one user");
  const configFile = `${storeDir.replace(/\/$/, "")}.conf`;
  await mkdir(dirname(configFile), { recursive: true });
  await writeFile(
    configFile,
    natsServerConfig({ port, storeDir, users: options.users, cluster: options.cluster }),
    { mode: 0o600 },
  );
  await chmod(configFile, 0o600);
  const args = ["-c", configFile];
  if (options.logFile) args.push("-l", resolve(options.logFile));
  const { child, output } = spawnEngine(binary, args);

  const url = `nats://127.0.0.1:${port}`;
  try {
    await waitForJetStream(url, child, { user: probe.user, pass: probe.password });
  } catch (error) {
    await stopProcess(child);
    throw new EngineStartError(`nats-server did not become ready on port ${port}`, {
      cause: error,
      output: lastLines(output()),
    });
  }
  return {
    url,
    pid: child.pid ?? 0,
    stop: () => stopProcess(child),
    async kill() {
      if (hasExited(child)) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Polls until a client can connect and JetStream answers an account info request. */
async function waitForJetStream(
  url: string,
  child: ChildProcess,
  credentials: { user: string; pass: string },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error("nats-server exited");
    try {
      const nc = await connect({
        servers: url,
        reconnect: false,
        timeout: 1_000,
        ...credentials,
      });
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  throw new Error("timed out waiting for JetStream", { cause: lastError });
}
