import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  BERTH_NATS_SERVICES,
  type BerthNatsService,
  berthNatsUsers,
  startNats,
  startPostgres,
} from "@berth/testkit/engines";

/** The NATS passwords of Berth's services on every NATS server this bench process starts. */
export const BENCH_NATS_PASSWORDS = Object.fromEntries(
  BERTH_NATS_SERVICES.map((service) => [service, randomBytes(24).toString("base64url")]),
) as Record<BerthNatsService, string>;
const ADMIN = { user: "berth-bench", password: randomBytes(24).toString("base64url") };

/** Postgres and NATS JetStream for the bench, in its own temporary folder. */
export interface BenchEngines {
  databaseUrl: string;
  adminUrl: string;
  natsUrl: string;
  /**
   * natsUrl and extraNats() URLs log in as the bench's admin user (connectNats and the test
   * kit's connectAs read it from the URL); services log in as themselves (BENCH_NATS_PASSWORDS).
   */
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
    const pg = await startPostgres({
      dataDir: join(dir, "postgres"),
      keep: false,
      password: randomBytes(24).toString("base64url"),
    });
    stops.push(() => pg.stop());
    const startOne = async (name: string) => {
      const nats = await startNats({
        storeDir: join(dir, name),
        logFile: join(logDir, `${name}.log`),
        users: berthNatsUsers(BENCH_NATS_PASSWORDS, ADMIN),
      });
      stops.push(() => nats.stop());
      return nats.url.replace("nats://", `nats://${ADMIN.user}:${ADMIN.password}@`);
    };
    const natsUrl = await startOne("nats");
    return { databaseUrl: pg.url, adminUrl: pg.adminUrl, natsUrl, extraNats: startOne, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
