// One Berth service as its own process, started exactly as its main.ts starts it (tracing first,
// then the service from its package), plus an IPC channel the bench uses to profile it, read its
// heap, run a reconciliation pass (runtime) and timestamp chosen log lines. Ends with its parent.
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { startTracing } from "@berth/platform/tracing";
import type { CapturedLine, ChildMessage, ChildRequest, MemoryFigures } from "./protocol.js";

const SERVICES = ["registry", "instances", "runtime", "gateway"] as const;
const name = process.argv[2] as (typeof SERVICES)[number];
if (!SERVICES.includes(name)) throw new Error(`unknown service ${process.argv[2]}`);

const tracing = startTracing({
  serviceName: name,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const { createLogger, loadConfig, runService } = await import("@berth/platform");
const module = (await import(`@berth/${name}`)) as Record<string, unknown>;
const title = `${name[0]!.toUpperCase()}${name.slice(1)}`;
const start = module[`start${title}`] as (config: unknown, logger: unknown) => Promise<Started>;
const config = loadConfig(module[`${name}Env`] as never, process.env) as { LOG_LEVEL: string };

interface Started {
  port: number;
  bridgePort?: number;
  reconcile?: () => Promise<void>;
  stop(): Promise<void>;
}

// Log lines go to stdout as under npm start; while capturing, lines carrying the awaited message
// are timestamped at the moment the service writes them (pino writes synchronously).
let capture: { message: string; lines: CapturedLine[] } | undefined;
const tap = {
  write(line: string) {
    if (capture && line.includes(capture.message)) {
      const at = performance.timeOrigin + performance.now();
      const instanceId = /"instance_id":"([^"]+)"/.exec(line)?.[1];
      if (instanceId) capture.lines.push({ instanceId, at });
    }
    return process.stdout.write(line);
  },
};
const logger = createLogger({
  service: name,
  level: config.LOG_LEVEL,
  destination: tap as unknown as NodeJS.WritableStream,
});

let service: Started | undefined;
await runService(name, async () => {
  service = await start(config, logger);
  return {
    async stop() {
      await service?.stop();
      await tracing.shutdown();
    },
  };
});
const ready: ChildMessage = { type: "ready", port: service!.port, bridgePort: service!.bridgePort };
process.send?.(ready);
// The bench is gone (even killed outright): stop as on SIGTERM.
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));

let session: Session | undefined;
async function answer(request: ChildRequest): Promise<unknown> {
  switch (request.op) {
    case "profile-start":
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      return null;
    case "profile-stop": {
      if (!session) throw new Error("no profile is being taken");
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = undefined;
      await writeFile(request.file, JSON.stringify(profile));
      return request.file;
    }
    case "reconcile": {
      if (!service?.reconcile) throw new Error(`${name} has no reconcile()`);
      const began = performance.now();
      await service.reconcile();
      return performance.now() - began;
    }
    case "capture-start":
      capture = { message: request.message, lines: [] };
      logger.level = "debug"; // the root logger's debug lines only; children keep their level
      return null;
    case "capture-count":
      return new Set(capture?.lines.map((line) => line.instanceId)).size;
    case "capture-stop": {
      const lines = capture?.lines ?? [];
      capture = undefined;
      logger.level = config.LOG_LEVEL;
      return lines;
    }
    case "memory": {
      (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed, external } = process.memoryUsage();
      return { rss, heapUsed, external } satisfies MemoryFigures;
    }
  }
}

process.on("message", (request: ChildRequest) => {
  answer(request).then(
    (value) => process.send?.({ type: "reply", id: request.id, ok: true, value }),
    (error: Error) =>
      process.send?.({ type: "reply", id: request.id, ok: false, error: error.message }),
  );
});
