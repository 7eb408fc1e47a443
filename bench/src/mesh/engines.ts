import { join } from "node:path";
import { startNats, startPostgres } from "@berth/testkit/engines";

/** Postgres and NATS JetStream for the bench, in its own temporary folder. */
export interface BenchEngines {
  databaseUrl: string;
  adminUrl: string;
  natsUrl: string;
  /** Starts another, empty NATS server (a mesh of its own needs its own streams). */
  extraNats(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a throwaway Postgres (removed on stop) and nats-server under dir, on free ports. */
export async function startBenchEngines(dir: string, logDir: string): Promise<BenchEngines> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const pg = await startPostgres({ dataDir: join(dir, "postgres"), keep: false });
    stops.push(() => pg.stop());
    const startOne = async (name: string) => {
      const nats = await startNats({
        storeDir: join(dir, name),
        logFile: join(logDir, `${name}.log`),
      });
      stops.push(() => nats.stop());
      return nats.url;
    };
    const natsUrl = await startOne("nats");
    return { databaseUrl: pg.url, adminUrl: pg.adminUrl, natsUrl, extraNats: startOne, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
