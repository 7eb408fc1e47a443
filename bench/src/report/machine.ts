import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findNatsServer, findPostgresBinDir } from "@berth/testkit/engines";

const run = promisify(execFile);

/** The machine the figures were taken on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
}

/** A name and the version that ran. */
export interface Version {
  name: string;
  version: string;
  role: string;
}

/** Cores, memory, OS, kernel and Node of this machine. */
export async function describeMachine(): Promise<Machine> {
  const release_ = await readFile("/etc/os-release", "utf8").catch(() => "");
  const os = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release_)?.[1] ?? "unknown";
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    os,
    kernel: release(),
    node: process.version,
  };
}

async function packageVersion(dir: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "not installed";
  }
}

async function commandVersion(file: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: 10_000 });
    return pattern.exec(`${stdout}${stderr}`)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Versions of Berth's packages, of every peer and tool, and of the engines. */
export async function collectVersions(root: string): Promise<Version[]> {
  const versions: Version[] = [];
  const commit = await commandVersion("git", ["-C", root, "rev-parse", "--short", "HEAD"], /(\S+)/);
  const dirty = await run("git", ["-C", root, "status", "--porcelain"]).then(
    ({ stdout }) => (stdout.trim() ? " + uncommitted changes" : ""),
    () => "",
  );
  versions.push({
    name: "berth",
    version: `${await packageVersion(root)} (git ${commit}${dirty})`,
    role: "the repository",
  });
  for (const folder of ["packages", "services"]) {
    for (const name of (await readdir(join(root, folder))).sort()) {
      versions.push({
        name: `@berth/${name}`,
        version: await packageVersion(join(root, folder, name)),
        role: folder === "services" ? "service" : "package",
      });
    }
  }
  const at = (dir: string, name: string, role: string) =>
    packageVersion(join(root, dir, name)).then((version) => ({ name, version, role }));
  versions.push(
    await at("node_modules", "@modelcontextprotocol/server-everything", "the reference MCP server"),
    await at(
      "node_modules",
      "@modelcontextprotocol/sdk",
      "MCP client of the bench; Berth's bridge",
    ),
    await at("bench/node_modules", "supergateway", "peer: stdio → Streamable HTTP bridge"),
    await at("bench/node_modules", "mcp-proxy", "peer: stdio → Streamable HTTP bridge"),
    await at("bench/node_modules", "autocannon", "HTTP load generator"),
    await at("node_modules", "@connectrpc/connect-node", "gRPC client of the bench"),
    { name: "node", version: process.version, role: "runtime of everything above" },
    {
      name: "docker engine",
      version: await commandVersion(
        "docker",
        ["version", "--format", "{{.Server.Version}}"],
        /(\S+)/,
      ),
      role: "containers",
    },
    {
      name: "postgres",
      version: await commandVersion(
        join(findPostgresBinDir(), "postgres"),
        ["--version"],
        /(\d+[.\d]*)/,
      ),
      role: "database (testkit defaults)",
    },
    {
      name: "nats-server",
      version: await commandVersion(findNatsServer(), ["--version"], /v?(\d+\.\d+\.\d+)/),
      role: "JetStream",
    },
  );
  return versions;
}
