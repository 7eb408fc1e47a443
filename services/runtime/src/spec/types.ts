import type { RuntimeSpec } from "@berth/spec";

// The runtime's form of a json_spec is defined once, in @berth/spec, beside the rules that read it.
export type { DockerSpec, HealthSpec, ResourceSpec, RuntimeSpec, UrlSpec } from "@berth/spec";

/** The outcome of reading a json_spec: the spec, or a message naming the bad fields. */
export type ParsedSpec = { ok: true; spec: RuntimeSpec } | { ok: false; message: string };
