import {
  CreateInstanceRequestSchema,
  StartInstanceRequestSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { canonicalJson, fingerprintRequest } from "./request-fingerprint.js";

const createRequest = (init: Parameters<typeof create<typeof CreateInstanceRequestSchema>>[1]) =>
  create(CreateInstanceRequestSchema, init);

describe("canonicalJson", () => {
  it("sorts object keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,1]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it("leaves undefined members out and escapes strings as JSON does", () => {
    expect(canonicalJson({ a: undefined, b: 'x"\n' })).toBe('{"b":"x\\"\\n"}');
  });
});

describe("fingerprintRequest", () => {
  const base = {
    instance: { name: "weather", jsonSpec: { type: "url", endpoint: "https://a.example/mcp" } },
    secrets: { B: "2", A: "1" },
  };

  it("is the same for a retry whatever its request id and key order", () => {
    const first = createRequest({ ...base, requestId: "5b0c0a3e-8f2d-4d7a-9b1e-3c4d5e6f7a8b" });
    const retry = createRequest({
      instance: { jsonSpec: { endpoint: "https://a.example/mcp", type: "url" }, name: "weather" },
      secrets: { A: "1", B: "2" },
      requestId: "00000000-0000-4000-8000-000000000000",
    });
    expect(fingerprintRequest(CreateInstanceRequestSchema, retry)).toBe(
      fingerprintRequest(CreateInstanceRequestSchema, first),
    );
  });

  it("differs when any field differs, nested ones and secret values included", () => {
    const one = fingerprintRequest(CreateInstanceRequestSchema, createRequest(base));
    const others = [
      { ...base, instance: { ...base.instance, name: "weather-2" } },
      { ...base, instance: { ...base.instance, jsonSpec: { type: "url", endpoint: "https://b" } } },
      { ...base, secrets: { A: "1", B: "3" } },
      { instance: base.instance },
    ];
    for (const other of others) {
      expect(fingerprintRequest(CreateInstanceRequestSchema, createRequest(other))).not.toBe(one);
    }
  });

  it("tells requests of different types apart even when their fields match", () => {
    const start = create(StartInstanceRequestSchema, {});
    const created = createRequest({});
    expect(fingerprintRequest(StartInstanceRequestSchema, start)).not.toBe(
      fingerprintRequest(CreateInstanceRequestSchema, created),
    );
  });

  it("does not change the request it fingerprints", () => {
    const request = createRequest({ ...base, requestId: "5b0c0a3e-8f2d-4d7a-9b1e-3c4d5e6f7a8b" });
    fingerprintRequest(CreateInstanceRequestSchema, request);
    expect(request.requestId).toBe("5b0c0a3e-8f2d-4d7a-9b1e-3c4d5e6f7a8b");
  });

  it("is a SHA-256 in hex", () => {
    expect(fingerprintRequest(CreateInstanceRequestSchema, createRequest(base))).toMatch(
      /^[0-9a-f]{64}$/,
    );
  });

  it("with a key, is an HMAC that a plain hash of the same request cannot reproduce", () => {
    const request = createRequest(base);
    const key = Buffer.alloc(32, 7);
    const keyed = fingerprintRequest(CreateInstanceRequestSchema, request, key);
    expect(keyed).toBe(fingerprintRequest(CreateInstanceRequestSchema, createRequest(base), key));
    expect(keyed).not.toBe(fingerprintRequest(CreateInstanceRequestSchema, request));
    expect(keyed).not.toBe(
      fingerprintRequest(CreateInstanceRequestSchema, request, Buffer.alloc(32, 8)),
    );
  });
});
