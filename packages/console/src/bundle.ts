import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** One built file, ready to serve. */
export interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Content-hashed (under assets/): its name changes whenever its content does. */
  readonly immutable: boolean;
}

/** The built console (`vite build` output), read once into memory. */
export interface ConsoleBundle {
  /** Where it was read from. */
  readonly dir: string;
  /** Files by their path under dist/, with "/" separators (`index.html`, `assets/x.js`). */
  readonly files: ReadonlyMap<string, ConsoleFile>;
  /** CSP sources (`sha256-…`) of the constant inline styles the bundle renders. */
  readonly styleHashes: readonly string[];
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/** The console's build folder in this checkout. */
export const CONSOLE_DIST = fileURLToPath(new URL("../dist/", import.meta.url));

/**
 * Reads the built console from `dir` (default: this package's dist/), or undefined when it has
 * not been built. Serving from a fixed in-memory table means a request path is only ever a key:
 * it never reaches the file system, so no path can escape the folder.
 */
export function loadConsoleBundle(dir = CONSOLE_DIST): ConsoleBundle | undefined {
  if (!existsSync(join(dir, "index.html"))) return undefined;
  const files = new Map<string, ConsoleFile>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const key = relative(dir, path).split(sep).join("/");
      const type = TYPES[extname(name).toLowerCase()];
      if (!type) continue; // only the kinds of file a build makes
      files.set(key, {
        body: readFileSync(path),
        contentType: type,
        immutable: key.startsWith("assets/"),
      });
    }
  };
  walk(dir);
  const hashes = files.get("csp-hashes.json");
  files.delete("csp-hashes.json");
  const styleHashes = hashes ? (JSON.parse(hashes.body.toString("utf8")).style as string[]) : [];
  return { dir, files, styleHashes };
}
