// The /app tree of Berth's service images: each service's compiled code, the compiled @berth/*
// workspaces it imports and the production dependency closure of both, laid out so that
// `node --conditions=berth-dist services/<name>/dist/main.js` resolves every import the way it
// does in the checkout. Run by deploy/images/build-berth-images.sh:
//   tsx scripts/images/service-tree.ts <target> <service>...
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SERVICES = ["registry", "instances", "runtime", "gateway"];

/** What of a workspace package runs: the compiled output, never sources or tests. */
const WORKSPACE_FOLDERS: Record<string, string[]> = {
  // lib/ is the Node module that loads the bundle; dist/ is the Vite bundle it serves at /ui.
  "@berth/console": ["lib", "dist"],
  // The OpenAPI document the gateway serves at /openapi.json.
  "@berth/gateway": ["dist", "openapi.json"],
};
/**
 * Workspaces whose npm dependencies Vite bundled into dist/: the Node side (lib/) imports only
 * node: modules, so React and the rest stay out of the image.
 */
const BUNDLED = new Set(["@berth/console"]);

/** Files no process loads: type declarations, source maps, tsc's build state. */
const SKIPPED = /(\.d\.[cm]?ts|\.map|\.tsbuildinfo)$/;

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const manifestOf = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/** Where node finds `name` from `from`, as a real path (workspace links resolved). */
function find(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dir === ROOT || dir === dirname(dir)) return undefined;
  }
}

const isWorkspace = (dir: string) => !relative(ROOT, dir).split(sep).includes("node_modules");

function main(): void {
  const [target, ...services] = process.argv.slice(2);
  if (!target || services.length === 0 || services.some((s) => !SERVICES.includes(s))) {
    throw new Error(`usage: service-tree.ts <target> <${SERVICES.join("|")}>...`);
  }
  const starts = services.map((service) => join(ROOT, "services", service));
  for (const start of starts) {
    if (!existsSync(join(start, "dist", "main.js"))) {
      throw new Error(`${relative(ROOT, start)}/dist/main.js is missing: run npm run build first`);
    }
  }
  // Each package's folder in the image: a service at services/<name>, other workspaces under
  // node_modules/@berth/, npm packages at their place relative to the repository.
  const placement = new Map<string, string>(starts.map((start) => [start, relative(ROOT, start)]));
  const place = (dir: string): string => {
    const known = placement.get(dir);
    if (known) return known;
    if (isWorkspace(dir)) {
      const at = join("node_modules", manifestOf(dir).name);
      placement.set(dir, at);
      return at;
    }
    // An npm package nested in a workspace's own node_modules moves with that workspace.
    const owner = [...placement.keys()].find(
      (ws) => isWorkspace(ws) && dir.startsWith(`${ws}${sep}node_modules${sep}`),
    );
    const at = owner ? join(placement.get(owner)!, relative(owner, dir)) : relative(ROOT, dir);
    placement.set(dir, at);
    return at;
  };

  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    place(dir);
    const manifest = manifestOf(dir);
    if (BUNDLED.has(manifest.name)) return;
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const found = find(name, dir);
      if (!found) throw new Error(`dependency ${name} of ${manifest.name} is not installed`);
      visit(found);
    }
    for (const name of Object.keys(manifest.optionalDependencies ?? {})) {
      const found = find(name, dir);
      if (found) visit(found);
    }
  };
  for (const start of starts) visit(start);

  for (const dir of [...seen].sort()) {
    const destination = join(target, place(dir));
    mkdirSync(destination, { recursive: true });
    if (isWorkspace(dir)) {
      const name = manifestOf(dir).name;
      cpSync(join(dir, "package.json"), join(destination, "package.json"));
      for (const folder of WORKSPACE_FOLDERS[name] ?? ["dist"]) {
        cpSync(join(dir, folder), join(destination, folder), {
          recursive: true,
          filter: (source) => !SKIPPED.test(basename(source)),
        });
      }
    } else {
      cpSync(dir, destination, {
        recursive: true,
        dereference: true,
        filter: (source) =>
          !source.startsWith(join(dir, "node_modules")) && !SKIPPED.test(basename(source)),
      });
    }
  }
  // The registry loads the starter catalog from the repository's catalog/ folder.
  if (services.includes("registry"))
    cpSync(join(ROOT, "catalog"), join(target, "catalog"), { recursive: true });
}

main();
