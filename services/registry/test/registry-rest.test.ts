import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RegistryMesh, startRegistryMesh } from "./registry-mesh.js";
import { type RestAnswer, violatedFields } from "./rest-client.js";
import { weatherEntry as weather } from "./weather-doc.js";

// The registry's REST surface through the gateway, exactly as the README's curl commands use it.
describe("registry over REST through the gateway", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: RegistryMesh;
  let call: RegistryMesh["rest"];

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startRegistryMesh(engines);
    call = mesh.rest;
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  let created: { id: string; revision: string } & Record<string, unknown>;

  const expectError = (answer: RestAnswer, status: number, code: string, fields?: string[]) => {
    expect(answer.status).toBe(status);
    expect(answer.body.error.status).toBe(code);
    if (fields) expect(violatedFields(answer)).toEqual(fields);
  };

  it("creates an entry and reads it back by id, by slug name and by reverse-DNS name", async () => {
    const answer = await call("POST", "/v1/servers", weather);
    expect(answer.status).toBe(200);
    created = answer.body;
    expect(created).toMatchObject({ ...weather, revision: "1" });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const key of [created.id, "io.github.acme/weather"]) {
      const got = await call("GET", `/v1/servers/${key}`);
      expect(got).toEqual({ status: 200, body: created });
    }
    // The gateway refuses encoded slashes in a path; the plain path above is the way.
    expect((await call("GET", "/v1/servers/io.github.acme%2Fweather")).status).toBe(400);
    const slug = await call("POST", "/v1/servers", { name: "notes", tags: ["demo"] });
    expect(slug.body).toMatchObject({ name: "notes", status: "SERVER_STATUS_ACTIVE" });
    expect((await call("GET", "/v1/servers/notes")).body.id).toBe(slug.body.id);
  });

  it("refuses bad entries with 400 naming each field, and writes nothing", async () => {
    const before = (await call("GET", "/v1/servers?pageSize=1000")).body.servers.length;
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ name: "Bad Name!" }, ["server.name"]],
      [{ name: "00000000-0000-4000-8000-000000000000" }, ["server.name"]],
      [{ name: "a", port: 8080 }, ["server.port"]],
      [{ name: "a", path: "/mcp" }, ["server.path"]],
      [{ name: "a", transport: "TRANSPORT_SSE", image: "x/y:1" }, ["server.port"]],
      [{ name: "a", image: "not an image" }, ["server.image"]],
      [{ name: "a", tags: ["x", "x", ""] }, ["server.tags[1]", "server.tags[2]"]],
      [{ name: "a", websiteUrl: "ftp://x" }, ["server.website_url"]],
      [
        {
          name: "a",
          remotes: [
            {
              transport: "TRANSPORT_SSE",
              url: "https://x.example/sse",
              headers: { Authorization: "Bearer top-secret-value" },
            },
          ],
        },
        ["server.remotes[0].headers"],
      ],
      [
        { name: "a", remotes: [{ transport: "TRANSPORT_STDIO", url: "nope" }] },
        ["server.remotes[0].transport", "server.remotes[0].url"],
      ],
      [
        {
          name: "a",
          envSchema: [
            { name: "A" },
            { name: "A" },
            { name: "9LIVES" },
            { name: "N", type: "ENV_VAR_TYPE_INTEGER", defaultValue: "ten" },
            { name: "C", choices: ["x"], defaultValue: "y" },
            { name: "S", secret: true, defaultValue: "top-secret-value" },
          ],
        },
        [
          "server.env_schema[1].name",
          "server.env_schema[2].name",
          "server.env_schema[3].default_value",
          "server.env_schema[4].default_value",
          "server.env_schema[5].default_value",
        ],
      ],
    ];
    for (const [body, fields] of cases) {
      const answer = await call("POST", "/v1/servers", body);
      expectError(answer, 400, "INVALID_ARGUMENT", fields);
      expect(JSON.stringify(answer.body)).not.toContain("top-secret-value");
    }
    expect((await call("GET", "/v1/servers?pageSize=1000")).body.servers.length).toBe(before);
    expectError(await call("POST", "/v1/servers", { name: "notes" }), 409, "ALREADY_EXISTS");
    expectError(await call("GET", "/v1/servers/nope"), 404, "NOT_FOUND");
  });

  it("lists with filters and pages", async () => {
    await call("POST", "/v1/servers", { name: "draft-one", status: "SERVER_STATUS_DRAFT" });
    await call("POST", "/v1/servers", {
      name: "old-one",
      status: "SERVER_STATUS_DEPRECATED",
      title: "Legacy FORECASTS",
    });
    const names = async (query: string) =>
      ((await call("GET", `/v1/servers?${query}`)).body.servers ?? []).map(
        (s: { name: string }) => s.name,
      );
    expect(await names("")).toEqual(["io.github.acme/weather", "notes", "draft-one", "old-one"]);
    expect(await names("tag=demo")).toEqual(["io.github.acme/weather", "notes"]);
    expect(await names("tag=weather")).toEqual(["io.github.acme/weather"]);
    expect(await names("status=SERVER_STATUS_DRAFT")).toEqual(["draft-one"]);
    expect(await names("isPublic=true")).toEqual(["io.github.acme/weather"]);
    expect(await names("isPublic=false")).toEqual(["notes", "draft-one", "old-one"]);
    expect(await names("query=forecast")).toEqual(["io.github.acme/weather", "old-one"]);
    expect(await names("query=acme%2Fw")).toEqual(["io.github.acme/weather"]);
    expect(await names("query=%25")).toEqual([]);
    const first = await call("GET", "/v1/servers?pageSize=3");
    expect(first.body.servers).toHaveLength(3);
    const second = await call(
      "GET",
      `/v1/servers?pageSize=3&pageToken=${first.body.nextPageToken}`,
    );
    expect(second.body.servers.map((s: { name: string }) => s.name)).toEqual(["old-one"]);
    expect(second.body.nextPageToken ?? "").toBe("");
    expectError(await call("GET", "/v1/servers?pageToken=garbage"), 400, "INVALID_ARGUMENT", [
      "page_token",
    ]);
    const foreign = `/v1/servers?pageSize=3&tag=demo&pageToken=${first.body.nextPageToken}`;
    expectError(await call("GET", foreign), 400, "INVALID_ARGUMENT", ["page_token"]);
    expectError(await call("GET", "/v1/servers?pageSize=-1"), 400, "INVALID_ARGUMENT", [
      "page_size",
    ]);
  });

  it("updates the fields of the mask, checks the revision, and validates the result", async () => {
    const path = "/v1/servers/io.github.acme/weather";
    const patched = await call("PATCH", `${path}?updateMask=title,tags`, {
      title: "Weather 2",
      tags: ["weather"],
      description: "ignored: not in the mask",
      revision: "1",
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Weather 2", tags: ["weather"], revision: "2" });
    expect(patched.body.description).toBe(weather.description);
    expectError(
      await call("PATCH", `${path}?updateMask=title`, { title: "x", revision: "1" }),
      409,
      "ABORTED",
    );
    expectError(
      await call("PATCH", `${path}?updateMask=id`, { id: "x" }),
      400,
      "INVALID_ARGUMENT",
      ["update_mask"],
    );
    expectError(await call("PATCH", `${path}?updateMask=nope`, {}), 400, "INVALID_ARGUMENT", [
      "update_mask",
    ]);
    expectError(
      await call("PATCH", `${path}?updateMask=envSchema`, {
        envSchema: [{ name: "X", secret: true, defaultValue: "v" }],
      }),
      400,
      "INVALID_ARGUMENT",
      ["server.env_schema[0].default_value"],
    );
    expectError(
      await call("PATCH", `${path}?updateMask=name`, { name: "notes" }),
      409,
      "ALREADY_EXISTS",
    );
    // Without a mask, the fields the body sets are updated; the same values again change nothing.
    const implied = await call("PATCH", `/v1/servers/${created.id}`, {
      isPublic: false,
      title: "Weather 3",
    });
    expect(implied.body).toMatchObject({ title: "Weather 3", isPublic: true, revision: "3" });
    const same = await call("PATCH", `/v1/servers/${created.id}`, { title: "Weather 3" });
    expect(same.body.revision).toBe("3");
    expectError(await call("PATCH", "/v1/servers/missing", { title: "x" }), 404, "NOT_FOUND");
    const got = await call("GET", path);
    expect(got.body).toMatchObject({
      title: "Weather 3",
      revision: "3",
      envSchema: created.envSchema,
    });
  });

  it("deletes with a revision check; the entry is gone afterwards", async () => {
    expectError(await call("DELETE", "/v1/servers/draft-one?revision=7"), 409, "ABORTED");
    expect(await call("DELETE", "/v1/servers/draft-one?revision=1")).toEqual({
      status: 200,
      body: {},
    });
    expectError(await call("GET", "/v1/servers/draft-one"), 404, "NOT_FOUND");
    expectError(await call("DELETE", "/v1/servers/draft-one"), 404, "NOT_FOUND");
    expect((await call("DELETE", "/v1/servers/io.github.acme/weather")).status).toBe(200);
  });
});
