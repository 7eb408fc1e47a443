// Writes services/gateway/openapi.json from the protos (with their comments), then formats it.
// Run by `npm run generate` (after buf generate); the file is committed and served at /openapi.json.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { buildOpenApi } from "../src/openapi/build-openapi.js";
import { OPENAPI_INFO, PUBLIC_SERVICES } from "../src/openapi/public-services.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = (name: string) => join(root, "node_modules/.bin", name);
// A buf image keeps the source info (comments) that generated code leaves out.
const image = execFileSync(bin("buf"), ["build", "-o", "-"], { cwd: root, maxBuffer: 64 << 20 });
const files = createFileRegistry(fromBinary(FileDescriptorSetSchema, new Uint8Array(image)));
const services = PUBLIC_SERVICES.map((s) => {
  const found = files.getService(s.typeName);
  if (!found) throw new Error(`${s.typeName} is not in the buf image`);
  return found;
});
const out = join(root, "services/gateway/openapi.json");
writeFileSync(out, `${JSON.stringify(buildOpenApi(services, OPENAPI_INFO), null, 2)}\n`);
execFileSync(bin("biome"), ["format", "--write", out], { cwd: root, stdio: "ignore" });
console.log(`wrote ${out.slice(root.length + 1)}`);
