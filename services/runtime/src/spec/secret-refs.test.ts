import { describe, expect, it } from "vitest";
import { parseSpec } from "./parse-spec.js";
import { hasSecretRefs, resolveSecretRefs, SecretRefError } from "./secret-refs.js";
import type { DockerSpec, UrlSpec } from "./types.js";

const docker = (environment: Record<string, string>) =>
  (parseSpec({ type: "docker", image: "x", environment }) as { spec: DockerSpec }).spec;

describe("secret references", () => {
  it("resolves environment references of the instance and leaves plain values", () => {
    const spec = docker({ API_KEY: "secret_ref:inst-1:API_KEY", LEVEL: "info" });
    expect(hasSecretRefs(spec)).toBe(true);
    const resolved = resolveSecretRefs(spec, "inst-1", { API_KEY: "s3cr3t" });
    expect(resolved.environment).toEqual({ API_KEY: "s3cr3t", LEVEL: "info" });
    expect(spec.environment.API_KEY).toBe("secret_ref:inst-1:API_KEY");
    expect(hasSecretRefs(docker({ LEVEL: "info" }))).toBe(false);
  });

  it("resolves a url instance's bearer token and headers", () => {
    const spec = (
      parseSpec({
        type: "url",
        endpoint: "https://x/mcp",
        headers: { "x-key": "secret_ref:i:KEY" },
        authentication: { type: "bearer", token: "secret_ref:i:TOKEN" },
      }) as { spec: UrlSpec }
    ).spec;
    const resolved = resolveSecretRefs(spec, "i", { KEY: "k", TOKEN: "t" });
    expect(resolved).toMatchObject({ headers: { "x-key": "k" }, bearerToken: "t" });
  });

  it("names a missing secret or a foreign reference, never a value", () => {
    const spec = docker({ API_KEY: "secret_ref:inst-1:API_KEY" });
    expect(() => resolveSecretRefs(spec, "inst-1", { OTHER: "v4lue" })).toThrow(
      new SecretRefError("secret API_KEY (json_spec.environment.API_KEY) is not set"),
    );
    expect(() => resolveSecretRefs(spec, "inst-2", { API_KEY: "v4lue" })).toThrow(
      /refers to a secret of another instance/,
    );
  });
});
