import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The mesh's own credentials: the key that encrypts instance secrets, the runtime's token. */
export interface MeshCredentials {
  BERTH_SECRET_KEYS: string;
  BERTH_RUNTIME_TOKEN: string;
}

/**
 * Reads the credentials kept in `file` (mode 0600), creating them on the first start, so a
 * restart can still decrypt the secrets it stored. Values from the shell win.
 */
export function loadOrCreateCredentials(file: string): MeshCredentials {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const fresh = [
      `BERTH_SECRET_KEYS=k1:${randomBytes(32).toString("base64")}`,
      `BERTH_RUNTIME_TOKEN=${randomBytes(32).toString("hex")}`,
    ];
    writeFileSync(file, `${fresh.join("\n")}\n`, { mode: 0o600 });
  }
  const kept = Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  return {
    BERTH_SECRET_KEYS: process.env.BERTH_SECRET_KEYS || kept.BERTH_SECRET_KEYS || "",
    BERTH_RUNTIME_TOKEN: process.env.BERTH_RUNTIME_TOKEN || kept.BERTH_RUNTIME_TOKEN || "",
  };
}
