import { accessSync, constants, readdirSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { EngineMissingError } from "./errors.js";

/** apt package names that provide each engine on Debian and Ubuntu. */
export const INSTALL_POSTGRES = "apt-get install postgresql";
/** apt package that provides nats-server. */
export const INSTALL_NATS = "apt-get install nats-server";

/** apt package that provides haproxy (the load balancer in front of replicas). */
export const INSTALL_HAPROXY = "apt-get install haproxy";

/** The directories searched for executables: PATH plus the sbin folders a non-root PATH lacks. */
export function searchDirs(path = process.env.PATH ?? ""): string[] {
  const dirs = path.split(delimiter).filter((dir) => dir !== "");
  return [
    ...new Set([...dirs, "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin"]),
  ];
}

/** The full path of an executable found in dirs, or undefined. */
export function findExecutable(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The nats-server executable; throws EngineMissingError when absent. */
export function findNatsServer(dirs: string[] = searchDirs()): string {
  const found = findExecutable("nats-server", dirs);
  if (!found) throw new EngineMissingError("nats-server", INSTALL_NATS);
  return found;
}

/** The haproxy executable; throws EngineMissingError when absent. */
export function findHaproxy(dirs: string[] = searchDirs()): string {
  const found = findExecutable("haproxy", dirs);
  if (!found) throw new EngineMissingError("haproxy", INSTALL_HAPROXY);
  return found;
}

/** Where Postgres server binaries are looked for (Debian keeps them out of PATH). */
export interface PostgresSearch {
  /** Folder holding one folder per major version, each with bin/ (default /usr/lib/postgresql). */
  versionsRoot?: string;
  /** Folders searched for initdb when versionsRoot has none. */
  dirs?: string[];
}

/** The folder with initdb, pg_ctl and postgres, newest major version first; throws when absent. */
export function findPostgresBinDir(search: PostgresSearch = {}): string {
  const root = search.versionsRoot ?? "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    // no Debian-style layout on this machine
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  const candidates = [
    ...versions.map((version) => join(root, version, "bin")),
    ...(search.dirs ?? searchDirs()),
  ];
  for (const dir of candidates) {
    const initdb = findExecutable("initdb", [dir]);
    if (initdb && findExecutable("pg_ctl", [dir]) && findExecutable("postgres", [dir])) {
      return dirname(initdb);
    }
  }
  throw new EngineMissingError(
    "Postgres (server binaries initdb, pg_ctl, postgres)",
    INSTALL_POSTGRES,
  );
}
