// The one-shot `init` container of deploy/compose: makes (first start) or reads (later starts) the
// mesh's credentials with the same code as npm start (scripts/start/credentials.ts), then lays
// them out in BERTH_COMPOSE_HOME (mounted at /berth) so that each container is handed only its
// own, as files owned by its user (deploy/images/service-users.json):
//   credentials.env, mesh/ca.*       root only: never mounted into a service
//   mesh/<service>.crt|.key          the service's mTLS identity
//   env/<service>.env                DATABASE_URL, NATS user and password (+ the secrets key ring
//                                    for instances, the bootstrap API key for the gateway), read
//                                    with `node --env-file`: no value in `docker inspect`
//   postgres/, postgres.password     the data folder and the password initdb sets
//   nats/, nats.conf                 JetStream's store and the per-service users
//   launcher/berth-launch.cjs        the runtime's secret launcher, mounted into MCP containers
//   bootstrap-api-key                the first admin key, for the operator (root only)
// Rewritten on every start (ports may change), keeping every generated value.
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import users from "../deploy/images/service-users.json" with { type: "json" };
import { berthNatsUsers, natsServerConfig } from "../packages/testkit/src/nats-users.js";
import { generateApiKey } from "../services/gateway/src/api-keys/key-format.js";
import { loadOrCreateCredentials, MESH_SERVICES } from "./start/credentials.js";
import { portFromEnv } from "./start/services.js";

const HOME = process.env.BERTH_INIT_HOME ?? "/berth";
/** Where the init image keeps the launcher (deploy/images/build-berth-images.sh puts it there). */
const LAUNCHER = process.env.BERTH_INIT_LAUNCHER ?? "/app/berth-launch.cjs";
const DATABASE = "berth";

/** Writes a file only `uid` may read (0400), replacing what was there. */
function ownFile(path: string, text: string, uid: number): void {
  writeFileSync(path, text, { mode: 0o400 });
  chmodSync(path, 0o400);
  chownSync(path, uid, uid);
}

/** A folder only `uid` may enter (0700). */
function ownFolder(path: string, uid: number): void {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o700);
  chownSync(path, uid, uid);
}

function main(): void {
  mkdirSync(HOME, { recursive: true, mode: 0o700 });
  chmodSync(HOME, 0o700);
  const pgPort = portFromEnv("BERTH_PG_PORT", 55432);
  const natsPort = portFromEnv("BERTH_NATS_PORT", 4222);
  const credentials = loadOrCreateCredentials(join(HOME, "credentials.env"), join(HOME, "mesh"));

  const keyFile = join(HOME, "bootstrap-api-key");
  if (!existsSync(keyFile)) writeFileSync(keyFile, `${generateApiKey().key}\n`, { mode: 0o600 });
  const bootstrapKey = readFileSync(keyFile, "utf8").trim();

  const databaseUrl = `postgres://postgres:${encodeURIComponent(credentials.pgPassword)}@127.0.0.1:${pgPort}/${DATABASE}`;
  mkdirSync(join(HOME, "env"), { recursive: true, mode: 0o700 });
  for (const service of MESH_SERVICES) {
    chownSync(credentials.identities[service].BERTH_MESH_KEY, users[service], users[service]);
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      NATS_USER: service,
      NATS_PASSWORD: credentials.natsPasswords[service],
      ...(service === "instances" ? { BERTH_SECRET_KEYS: credentials.BERTH_SECRET_KEYS } : {}),
      ...(service === "gateway"
        ? {
            BERTH_BOOTSTRAP_API_KEY: bootstrapKey,
            BERTH_OAUTH_KEY_ENCRYPTION_KEYS: credentials.BERTH_OAUTH_KEY_ENCRYPTION_KEYS,
          }
        : {}),
    };
    const lines = Object.entries(env).map(([name, value]) => `${name}=${value}\n`);
    ownFile(join(HOME, "env", `${service}.env`), lines.join(""), users[service]);
  }

  ownFolder(join(HOME, "postgres"), users.postgres);
  ownFile(join(HOME, "postgres.password"), `${credentials.pgPassword}\n`, users.postgres);

  ownFolder(join(HOME, "nats"), users.nats);
  const nats = natsServerConfig({
    port: natsPort,
    storeDir: "/data",
    users: berthNatsUsers(credentials.natsPasswords),
  });
  ownFile(join(HOME, "nats.conf"), nats, users.nats);

  // Readable by the unprivileged user of every MCP container it is mounted into.
  mkdirSync(join(HOME, "launcher"), { recursive: true });
  chmodSync(join(HOME, "launcher"), 0o755);
  copyFileSync(LAUNCHER, join(HOME, "launcher", "berth-launch.cjs"));
  chmodSync(join(HOME, "launcher", "berth-launch.cjs"), 0o444);
  process.stdout.write(
    `Berth's credentials are in ${process.env.BERTH_COMPOSE_HOME ?? HOME} (the admin key: bootstrap-api-key)\n`,
  );
}

main();
