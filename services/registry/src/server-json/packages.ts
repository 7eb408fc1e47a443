import { type EnvVarSchema, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { validateInputs } from "../validation/env-schema-validation.js";
import { inputFromJson, jsonInputPath } from "./inputs.js";
import { isObject, type JsonObject, type JsonReader } from "./json-reader.js";
import { argumentWords } from "./package-args.js";
import { type Endpoint, readPackageTransport } from "./transport.js";

/** Package types Berth maps to an entry; others stay in the kept document only. */
export const MAPPED_REGISTRY_TYPES = ["oci", "npm"] as const;

/** The package whose image (oci) or command (npm) the entry takes: the first oci, else the first npm. */
export function primaryPackage(packages: readonly unknown[]): number {
  const type = (p: unknown) => (isObject(p) ? p.registryType : undefined);
  const oci = packages.findIndex((p) => type(p) === "oci");
  return oci !== -1 ? oci : packages.findIndex((p) => type(p) === "npm");
}

/** The entry fields a document's primary package gives. */
export interface MappedPackage {
  image: string;
  transport: Transport;
  port: number;
  path: string;
  command: string[];
  args: string[];
  envSchema: EnvVarSchema[];
}

/** Reads packages[]: reports unmapped ones as warnings, maps the primary one. */
export function readPackages(r: JsonReader, doc: JsonObject): Partial<MappedPackage> {
  const packages = r.objects(doc, "packages", "");
  packages.forEach((pkg, i) => {
    const type = r.string(pkg, "registryType", `packages[${i}]`, true);
    if (type && !(MAPPED_REGISTRY_TYPES as readonly string[]).includes(type))
      r.warnings.push(
        `packages[${i}]: registryType ${type} is not supported; kept in the document only`,
      );
  });
  const index = primaryPackage(packages);
  packages.forEach((pkg, i) => {
    if (i !== index && (MAPPED_REGISTRY_TYPES as readonly unknown[]).includes(pkg.registryType))
      r.warnings.push(
        `packages[${i}]: only packages[${index}] is mapped to the entry; kept in the document only`,
      );
  });
  const pkg = packages[index];
  if (!pkg) return {};
  const path = `packages[${index}]`;
  const identifier = r.string(pkg, "identifier", path, true) ?? "";
  const endpoint: Endpoint = readPackageTransport(r, pkg, path) ?? {
    transport: Transport.STDIO,
    port: 0,
    path: "",
  };
  const envPaths: string[] = [];
  const envSchema = r.objects(pkg, "environmentVariables", path).map((env, j) => {
    const at = `${path}.environmentVariables[${j}]`;
    envPaths.push(`server_json.${at}`);
    return inputFromJson(r, env, at, r.string(env, "name", at, true) ?? "");
  });
  for (const v of validateInputs(envSchema, "", undefined, envPaths))
    r.violations.push({ field: jsonInputPath(v.field), description: v.description });
  const args = argumentWords(r, pkg, "packageArguments", path);
  if (pkg.registryType === "oci") {
    if (Array.isArray(pkg.runtimeArguments) && pkg.runtimeArguments.length > 0)
      r.warnings.push(
        `${path}.runtimeArguments: docker options are not mapped; the runtime sets its own`,
      );
    return { image: identifier, ...endpoint, command: [], args, envSchema };
  }
  const version = r.string(pkg, "version", path, true) ?? "";
  const runtime = r.string(pkg, "runtimeHint", path) || "npx";
  const runtimeArgs = argumentWords(r, pkg, "runtimeArguments", path);
  r.warnings.push(`${path}: an npm package has no container image; set image to run it in Docker`);
  const command = [runtime, ...runtimeArgs, `${identifier}@${version}`];
  return { image: "", ...endpoint, command, args, envSchema };
}
