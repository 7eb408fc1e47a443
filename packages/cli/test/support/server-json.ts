import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The README's example catalog entry: the reference server with a secret and a setting. */
export const TEAM_SERVER_JSON = fileURLToPath(
  new URL("../../examples/team-everything.json", import.meta.url),
);

/** Writes a copy of the example entry under another name into dir; returns the file. */
export function writeServerJsonCopy(dir: string, name: string): string {
  const document = JSON.parse(readFileSync(TEAM_SERVER_JSON, "utf8"));
  document.name = name;
  const file = join(dir, `${name.replace(/\W/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}
