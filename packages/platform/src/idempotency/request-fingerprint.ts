import { createHash, createHmac } from "node:crypto";
import { clone, type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";

/** The proto name of the field that carries a request id (AIP-155). */
export const REQUEST_ID_FIELD = "request_id";

/**
 * JSON text with every object's keys sorted (arrays keep their order), so that two equal values
 * give the same text whatever order their keys were built in (maps, Structs, jsonb round trips).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map(
        (key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
      );
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The SHA-256 (hex) of a request's canonical proto JSON without its request id: equal for a
 * retry of the same call, different when any other field differs. Proto JSON leaves fields at
 * their default out, so an unset field and one set to its default are the same request.
 * Requests that carry secret values must be fingerprinted with a key (HMAC-SHA-256): a plain hash
 * stored in the database would let anyone who reads it test guesses of a weak secret.
 */
export function fingerprintRequest<Desc extends DescMessage>(
  schema: Desc,
  request: MessageShape<Desc>,
  key?: Uint8Array,
): string {
  const copy = clone(schema, request);
  const field = schema.fields.find((f) => f.name === REQUEST_ID_FIELD);
  if (field) (copy as Record<string, unknown>)[field.localName] = "";
  const json = toJson(schema, copy, { alwaysEmitImplicit: false });
  const hash = key ? createHmac("sha256", key) : createHash("sha256");
  return hash.update(`${schema.typeName}\n${canonicalJson(json)}`).digest("hex");
}
