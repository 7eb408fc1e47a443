import { randomBytes } from "node:crypto";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";

// Instances through the gateway's REST door, with the registry behind it.
describe("instances through the gateway", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  const apiKey = `berth_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;
  const secretValue = `sk-gw-${randomBytes(12).toString("hex")}`;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances"],
      env: { BERTH_BOOTSTRAP_API_KEY: apiKey },
    });
    const server = await call("POST", "/v1/servers", {
      name: "forecast",
      image: "berth/forecast:1",
      transport: "TRANSPORT_STDIO",
      envSchema: [
        { name: "API_KEY", type: "ENV_VAR_TYPE_STRING", required: true, secret: true },
        { name: "CITY", type: "ENV_VAR_TYPE_STRING", required: true },
      ],
    });
    expect(server.status).toBe(200);
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    return fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  it("answers 400 naming the missing required variable", async () => {
    const response = await call("POST", "/v1/instances", {
      instance: {
        name: "forecast-1",
        serverId: "forecast",
        jsonSpec: { environment: { CITY: "Oslo" } },
      },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error: {
        status: string;
        details: Array<{ fieldViolations?: Array<{ field: string; description: string }> }>;
      };
    };
    expect(body.error.status).toBe("INVALID_ARGUMENT");
    expect(body.error.details.flatMap((d) => d.fieldViolations ?? [])).toEqual([
      {
        field: "instance.json_spec.environment.API_KEY",
        description: expect.stringMatching(/is required/),
      },
    ]);
    expect((await call("GET", "/v1/instances/forecast-1")).status).toBe(404);
  });

  it("creates the instance in PENDING with secret references only", async () => {
    const response = await call("POST", "/v1/instances", {
      instance: {
        name: "forecast-1",
        serverId: "forecast",
        jsonSpec: { environment: { CITY: "Oslo" } },
      },
      secrets: { API_KEY: secretValue },
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(secretValue);
    const instance = JSON.parse(text) as {
      id: string;
      status: string;
      desiredState: string;
      endpoint: string;
      generation: string;
      jsonSpec: Record<string, unknown>;
    };
    expect(instance).toMatchObject({
      status: "INSTANCE_STATUS_PENDING",
      desiredState: "DESIRED_STATE_RUNNING",
      endpoint: "/mcp/forecast-1",
      generation: "1",
      jsonSpec: {
        type: "docker",
        image: "berth/forecast:1",
        environment: { API_KEY: `secret_ref:${instance.id}:API_KEY`, CITY: "Oslo" },
      },
    });

    const stopped = await call("POST", `/v1/instances/${instance.id}:stop`, {});
    expect(((await stopped.json()) as { desiredState: string }).desiredState).toBe(
      "DESIRED_STATE_STOPPED",
    );
    const listed = await call("GET", "/v1/instances?desiredState=DESIRED_STATE_STOPPED");
    const list = (await listed.json()) as { instances: Array<{ name: string }> };
    expect(list.instances.map((i) => i.name)).toEqual(["forecast-1"]);
  });

  it("streams a watch as JSON lines and lets the client leave", async () => {
    const controller = new AbortController();
    const response = await fetch(`${mesh.gateway.url}/v1/instances/forecast-1:watch`, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = "";
    for (let reads = 0; reads < 50 && !text.includes("\n"); reads += 1) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
    }
    controller.abort();
    const first = JSON.parse(text.split("\n")[0]!) as { instance?: { name: string } };
    expect(first.instance?.name).toBe("forecast-1");
  });

  it("keeps a watch open past the services' default deadline and delivers later changes", async () => {
    const controller = new AbortController();
    const response = await fetch(`${mesh.gateway.url}/v1/instances/forecast-1:watch`, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const lines: string[] = [];
    let buffered = "";
    const readLines = async (count: number) => {
      for (let reads = 0; reads < 100 && lines.length < count; reads += 1) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += Buffer.from(value).toString("utf8");
        const parts = buffered.split("\n");
        buffered = parts.pop() ?? "";
        lines.push(...parts.filter(Boolean));
      }
    };
    await readLines(1);
    // Service-to-service calls default to a 5 s deadline; a watch must outlive it.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await call("POST", "/v1/instances/forecast-1:start", {});
    await readLines(2);
    controller.abort();
    expect(lines).toHaveLength(2);
    const later = JSON.parse(lines[1]!) as { instance?: { desiredState: string } };
    expect(later.instance?.desiredState).toBe("DESIRED_STATE_RUNNING");
  }, 30_000);

  it("does not expose the runtime's secret resolution", async () => {
    const response = await call(
      "POST",
      "/berth.instances.v1.InstanceSecretsService/ResolveInstanceSecrets",
      { instanceId: "forecast-1" },
    );
    const text = await response.text();
    expect(response.status).toBe(404);
    expect(text).not.toContain(secretValue);
  });
});
