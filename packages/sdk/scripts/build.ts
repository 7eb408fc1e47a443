// Builds the installable package into dist/: the SDK's sources with the public contracts they
// import from @berth/proto generated beside them (buf, offline), compiled to ESM with type
// declarations, plus a package.json and the README. `npm pack ./packages/sdk/dist` makes the tarball.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const repo = join(root, "..", "..");
const staging = join(root, "build");
const dist = join(root, "dist");
rmSync(staging, { recursive: true, force: true });
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(staging, "src"), { recursive: true });

const buf = join(repo, "node_modules", ".bin", "buf");
execFileSync(buf, ["generate", "--template", "buf.gen.sdk.yaml", "-o", join(staging, "src")], {
  cwd: repo,
  stdio: "inherit",
});
// In the monorepo the SDK imports the shared generated code; the package carries its own copy.
for (const file of readdirSync(join(root, "src")).filter(
  (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
)) {
  const text = readFileSync(join(root, "src", file), "utf8").replace(
    /"@berth\/proto\/gen\/([^"]+)"/g,
    (_match, path: string) => `"./gen/${path}.js"`,
  );
  writeFileSync(join(staging, "src", file), text);
}
execFileSync(
  process.execPath,
  [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json")],
  {
    stdio: "inherit",
  },
);

const source = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const manifest = {
  name: source.name,
  version: source.version,
  description: source.description,
  license: source.license,
  type: "module",
  main: "./index.js",
  types: "./index.d.ts",
  exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
  sideEffects: false,
  dependencies: source.dependencies,
};
writeFileSync(join(dist, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(join(root, "README.md"), join(dist, "README.md"));
rmSync(staging, { recursive: true, force: true });
console.log(`built ${manifest.name}@${manifest.version} in ${dist}`);
