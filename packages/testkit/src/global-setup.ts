import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startNats } from "./nats.js";
import { BERTH_NATS_SERVICES, type BerthNatsService, berthNatsUsers } from "./nats-users.js";
import { startPostgres } from "./postgres.js";
import type { NatsHandle, PostgresHandle } from "./types.js";

/**
 * vitest globalSetup of the integration project: provides a Postgres admin URL and a NATS URL.
 * DATABASE_URL and NATS_URL point at existing servers (NATS_URL with an admin user in it, and
 * NATS_PASSWORD_<SERVICE> for Berth's users); otherwise throwaway ones are started in a
 * temporary folder and removed afterwards, with throwaway passwords. A missing engine fails the run with what to
 * install: integration tests are never skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    let dir: Promise<string> | undefined;
    // One folder for both engines; memoized as a promise because both ask for it at once.
    const tempDir = () => {
      dir ??= mkdtemp(join(tmpdir(), "berth-test-")).then(async (created) => {
        stops.unshift(() => rm(created, { recursive: true, force: true }));
        // Postgres runs as the postgres user when we are root: it must reach its data folder.
        await chmod(created, 0o755);
        return created;
      });
      return dir;
    };
    // allSettled: when one engine fails, the other must finish starting before teardown stops it.
    const secret = () => randomBytes(24).toString("base64url");
    const natsPasswords = Object.fromEntries(
      BERTH_NATS_SERVICES.map((service) => [
        service,
        process.env[`NATS_PASSWORD_${service.toUpperCase()}`] ?? secret(),
      ]),
    ) as Record<BerthNatsService, string>;
    const admin = { user: "berth-test", password: secret() };
    const [postgres, nats] = await Promise.allSettled([
      process.env.DATABASE_URL ??
        tempDir().then((root) =>
          track(
            // A throwaway password: the tests reach Postgres through URLs that carry it.
            startPostgres({
              dataDir: join(root, "postgres"),
              password: secret(),
            }),
            stops,
          ),
        ),
      process.env.NATS_URL ??
        tempDir()
          .then((root) =>
            track(
              startNats({
                storeDir: join(root, "nats"),
                users: berthNatsUsers(natsPasswords, admin),
              }),
              stops,
            ),
          )
          // Tests connect as the admin user through the URL (connectNats reads it from there).
          .then((url) => url.replace("nats://", `nats://${admin.user}:${admin.password}@`)),
    ]);
    if (postgres.status === "rejected") throw postgres.reason;
    if (nats.status === "rejected") throw nats.reason;
    project.provide("postgresAdminUrl", postgres.value);
    project.provide("natsUrl", nats.value);
    project.provide("natsPasswords", natsPasswords);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

/** Records how to stop an engine as soon as it is up, and hands back its admin URL. */
async function track(
  started: Promise<PostgresHandle | NatsHandle>,
  stops: Array<() => Promise<void>>,
) {
  const handle = await started;
  stops.push(() => handle.stop());
  return "adminUrl" in handle ? handle.adminUrl : handle.url;
}
