import { execFile } from "node:child_process";
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";

/**
 * The workspaces compiled to `dist/` (the four services and the packages they import), in the
 * order of tsconfig.build.json's references.
 */
export const BUILT_WORKSPACES = [
  "packages/spec",
  "packages/proto",
  "packages/platform",
  "services/registry",
  "services/instances",
  "services/runtime",
  "services/gateway",
] as const;

/** The node option that makes `@berth/*` imports resolve to `dist/` (see each package.json). */
export const COMPILED_CONDITION = "--conditions=berth-dist";

/**
 * The V8 settings of every service process, however it is started: npm start, the tests' and the
 * bench's spawners (as node arguments) and the images (as NODE_OPTIONS, written by
 * deploy/images/build-berth-images.sh from this list). V8's default young generation grows to two
 * 16 MiB semi-spaces and keeps them resident (32 MiB of an idle service's ~140 MiB). With 2 MiB
 * semi-spaces the scavenges are more frequent and shorter: a service idles 15-30 MiB smaller and
 * the gateway's request rate stayed within the noise of the same run (README, "npm run build").
 */
export const SERVICE_V8_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/** The node arguments that run a service's compiled entry point (`main`, see compiledMain). */
export function compiledServiceArgs(main: string): string[] {
  return [...SERVICE_V8_FLAGS, COMPILED_CONDITION, main];
}

/** Where a service's compiled entry point is. */
export function compiledMain(root: string, service: string): string {
  return join(root, "services", service, "dist", "main.js");
}

const run = promisify(execFile);

/**
 * Compiles the services to ESM JavaScript with `tsc -b tsconfig.build.json` (project references:
 * a project whose sources did not change is not compiled again, so an up-to-date tree costs about
 * a second) and copies the files beside the sources that tsc does not emit (the runtime's
 * container launcher, a .cjs file). Throws with tsc's output when the sources do not compile.
 */
export async function buildServices(root: string): Promise<void> {
  const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");
  try {
    await run(process.execPath, [tsc, "-b", join(root, "tsconfig.build.json")], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -b tsconfig.build.json failed:\n${`${stdout}${stderr}`.trim()}`);
  }
  for (const workspace of BUILT_WORKSPACES) {
    const src = join(root, workspace, "src");
    for (const file of await assetsUnder(src)) {
      const target = join(root, workspace, "dist", relative(src, file));
      const [from, to] = await Promise.all([stat(file), stat(target).catch(() => undefined)]);
      if (to && to.mtimeMs >= from.mtimeMs) continue;
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file, target);
    }
  }
}

/** Whether every service has a compiled entry point (false on a fresh clone). */
export async function isBuilt(root: string, services: readonly string[]): Promise<boolean> {
  const found = await Promise.all(
    services.map((service) =>
      stat(compiledMain(root, service)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.every(Boolean);
}

/** Files under a source folder that tsc does not compile (neither TypeScript nor a test). */
async function assetsUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && !/\.(ts|tsx|mts|cts)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}
