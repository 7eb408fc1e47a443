import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { BerthError, createBerthClient } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import { newRunId, removeLeftovers, waitFor } from "../../runtime/test/support/runtime-harness.js";
import type { Gateway } from "../src/index.js";
import { type ExternalIssuer, startExternalIssuer } from "./support/external-issuer.js";
import {
  ALL_SCOPES,
  createKey,
  type KeyedMesh,
  startFederatedGateway,
  startKeyedMesh,
} from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import { initializeWith, MemoryOAuthProvider, signIn } from "./support/oauth-client.js";

type Json = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";

// Teams and roles with real parts: two teams (red, blue), keys of each role made by each team's
// admin, a signed-in user whose memberships are stored, and an external issuer whose groups claim
// maps to memberships; url instances run by the real runtime (@modelcontextprotocol/server-
// everything) reached with the official MCP SDK client; REST, Connect (SDK), gRPC and the CLI.
describe("teams and roles", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let external: ExternalIssuer;
  let federated: Gateway;
  const clients: Client[] = [];
  // Keys by team and role: red.admin, red.editor, red.viewer, red.agent, blue.admin.
  const keys: Record<string, { id: string; key: string }> = {};
  const instanceIds: Record<string, string> = {};

  const call = async (key: string | null, method: string, path: string, body?: unknown) => {
    const response = await mesh.rest(method, path, body, key);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Json };
  };
  const as = (who: string) => (method: string, path: string, body?: unknown) =>
    call(keys[who]!.key, method, path, body);
  const admin = (method: string, path: string, body?: unknown) =>
    call(mesh.adminKey, method, path, body);

  /** An MCP client through the gateway with a bearer credential; the error when it cannot. */
  const connect = async (path: string, bearer: string) => {
    const client = new Client({ name: "teams-test", version: "1.0.0" });
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${mesh.gateway.url}${path}`), {
          requestInit: { headers: { authorization: `Bearer ${bearer}` } },
        }),
        { timeout: 30_000 },
      );
      clients.push(client);
      return { client };
    } catch (error) {
      return { error: error as Error };
    }
  };
  /** The HTTP status of a raw MCP initialize. */
  const initializeStatus = async (base: string, path: string, bearer: string) =>
    (await initializeWith(`${base}${path}`, bearer)).status;
  const echo = async (client: Client, tool = "echo") => {
    const result = (await client.callTool({ name: tool, arguments: { message: "hi" } })) as {
      content: Array<{ text?: string }>;
    };
    return result.content[0]?.text ?? "";
  };

  beforeAll(async () => {
    engines = await useEngines();
    everything = await startEverythingServer();
    mesh = await startKeyedMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    for (const team of ["red", "blue"]) {
      const created = await admin("POST", "/v1/teams", { name: team, displayName: team });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      keys[`${team}.admin`] = await createKey(mesh, { team, role: "ROLE_ADMIN" });
    }
    // Each team's admin makes its own team's keys (no scopes given: the role's).
    for (const role of ["editor", "viewer", "agent"]) {
      const made = await as("red.admin")("POST", "/v1/apiKeys", {
        displayName: `red ${role}`,
        role: `ROLE_${role.toUpperCase()}`,
      });
      expect(made.status, JSON.stringify(made.body)).toBe(200);
      expect(made.body.apiKey).toMatchObject({ team: "red", role: `ROLE_${role.toUpperCase()}` });
      keys[`red.${role}`] = {
        id: (made.body.apiKey as Json).id as string,
        key: made.body.key as string,
      };
    }
    // One url instance per team, each made by that team's editor or admin.
    for (const [team, who] of [
      ["red", "red.editor"],
      ["blue", "blue.admin"],
    ] as const) {
      const created = await as(who)("POST", "/v1/instances", {
        instance: { name: `${team}-ev`, jsonSpec: { type: "url", endpoint: everything.url } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      expect(created.body.team, "the instance joins its creator's team").toBe(team);
      instanceIds[team] = created.body.id as string;
    }
    await waitFor(
      "both instances RUNNING",
      async () => {
        const statuses = await Promise.all(
          (["red.editor", "blue.admin"] as const).map(
            async (who, i) =>
              (await as(who)("GET", `/v1/instances/${Object.values(instanceIds)[i]}`)).body.status,
          ),
        );
        return statuses.every((s) => s === "INSTANCE_STATUS_RUNNING") ? true : undefined;
      },
      90_000,
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await federated?.stop();
    await external?.stop();
    await mesh?.stop();
    await everything?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("lets each role do what it may and refuses the rest with 403; other teams' objects are 404", async () => {
    const red = instanceIds.red!;
    const blue = instanceIds.blue!;
    const newInstance = (name: string) => ({
      instance: { name, jsonSpec: { type: "url", endpoint: everything.url } },
    });
    // Creating instances: editor and admin yes; viewer and agent no.
    expect((await as("red.viewer")("POST", "/v1/instances", newInstance("v1"))).status).toBe(403);
    expect((await as("red.agent")("POST", "/v1/instances", newInstance("a1"))).status).toBe(403);
    // Naming a team one is not a member of is as if it did not exist.
    expect(
      (
        await as("red.editor")("POST", "/v1/instances", {
          instance: { ...newInstance("x1").instance, team: "blue" },
        })
      ).status,
    ).toBe(404);
    // Reading: viewer, editor, admin yes; agent no.
    for (const who of ["red.viewer", "red.editor", "red.admin"]) {
      const got = await as(who)("GET", `/v1/instances/${red}`);
      expect(got.status, who).toBe(200);
      expect(got.body.team).toBe("red");
    }
    expect((await as("red.agent")("GET", `/v1/instances/${red}`)).status).toBe(403);
    // Changing: viewer no, editor yes.
    const patch = (description: string) => ({
      instance: { description },
      updateMask: "description",
    });
    const viewerPatch = await as("red.viewer")("PATCH", `/v1/instances/${red}`, patch("v"));
    expect(viewerPatch.status, JSON.stringify(viewerPatch.body)).toBe(403);
    const editorPatch = await as("red.editor")("PATCH", `/v1/instances/${red}`, patch("red's"));
    expect(editorPatch.status, JSON.stringify(editorPatch.body)).toBe(200);
    // Another team's instance does not exist for the caller, whatever their role, by id or name.
    for (const ref of [blue, "blue-ev"]) {
      expect((await as("red.admin")("GET", `/v1/instances/${ref}`)).status, ref).toBe(404);
      expect((await as("red.editor")("DELETE", `/v1/instances/${ref}`)).status, ref).toBe(404);
      expect((await as("red.viewer")("GET", `/v1/instances/${ref}/tools`)).status, ref).toBe(404);
    }
    // Lists hold only the caller's teams' instances.
    const redList = await as("red.viewer")("GET", "/v1/instances");
    expect((redList.body.instances as Json[]).map((i) => i.name)).toEqual(["red-ev"]);
    const blueList = await as("blue.admin")("GET", "/v1/instances");
    expect((blueList.body.instances as Json[]).map((i) => i.name)).toEqual(["blue-ev"]);
    const filtered = await as("blue.admin")("GET", "/v1/instances?teams=blue");
    expect((filtered.body.instances as Json[]).map((i) => i.name)).toEqual(["blue-ev"]);
    // Filtering by a team the caller is not in narrows to nothing (it does not widen).
    expect((await as("blue.admin")("GET", "/v1/instances?teams=red")).body.instances ?? []).toEqual(
      [],
    );
    // The platform admin (the default team's admin) sees neither: membership decides, not rank.
    expect((await admin("GET", "/v1/instances")).body.instances ?? []).toEqual([]);

    // Virtual servers: editor creates one over its team's instance, not over another team's.
    const vs = await as("red.editor")("POST", "/v1/virtualServers", {
      name: "red-vs",
      members: [{ instance: "red-ev", prefix: "r" }],
    });
    expect(vs.status, JSON.stringify(vs.body)).toBe(200);
    expect(vs.body.team).toBe("red");
    const stolen = await as("blue.admin")("POST", "/v1/virtualServers", {
      name: "blue-vs",
      members: [{ instance: "red-ev" }],
    });
    expect(stolen.status).toBe(400);
    expect(JSON.stringify(stolen.body)).toContain("members[0].instance");
    expect(
      (
        await as("red.viewer")("POST", "/v1/virtualServers", {
          name: "v",
          members: [{ instance: "red-ev" }],
        })
      ).status,
    ).toBe(403);
    expect((await as("blue.admin")("GET", "/v1/virtualServers/red-vs")).status).toBe(404);
    expect((await as("blue.admin")("DELETE", "/v1/virtualServers/red-vs")).status).toBe(404);
    expect((await as("red.viewer")("GET", "/v1/virtualServers/red-vs")).status).toBe(200);
    expect(
      ((await as("blue.admin")("GET", "/v1/virtualServers")).body.virtualServers ?? []) as Json[],
    ).toEqual([]);

    // API keys: only admins manage them, within their team, never above their own role.
    expect(
      (await as("red.editor")("POST", "/v1/apiKeys", { displayName: "x", role: "ROLE_VIEWER" }))
        .status,
    ).toBe(403);
    expect(
      (
        await as("red.admin")("POST", "/v1/apiKeys", {
          displayName: "x",
          role: "ROLE_VIEWER",
          team: "blue",
        })
      ).status,
    ).toBe(404);
    expect((await as("blue.admin")("GET", `/v1/apiKeys/${keys["red.agent"]!.id}`)).status).toBe(
      404,
    );
    const redKeys = (await as("red.admin")("GET", "/v1/apiKeys")).body.apiKeys as Json[];
    expect(new Set(redKeys.map((k) => k.team))).toEqual(new Set(["red"]));
    expect(redKeys).toHaveLength(4);

    // Platform acts are the default team's admins': a team admin may not make teams or users.
    expect((await as("red.admin")("POST", "/v1/teams", { name: "green" })).status).toBe(403);
    expect((await as("red.admin")("GET", "/v1/users")).status).toBe(403);
    expect((await as("red.editor")("POST", "/v1/servers", { name: "x" })).status).toBe(403);
    expect((await as("red.viewer")("GET", "/v1/servers")).status).toBe(200);
  });

  it("lets agents, editors and admins call MCP tools of their team; viewers get 403, other teams 404", async () => {
    const ok = await connect("/mcp/red-ev", keys["red.agent"]!.key);
    expect(ok.error?.message).toBeUndefined();
    expect(await echo(ok.client!)).toContain("hi");
    const viaVs = await connect("/mcp/v/red-vs", keys["red.agent"]!.key);
    expect(viaVs.error?.message).toBeUndefined();
    expect(await echo(viaVs.client!, "r_echo")).toContain("hi");
    const editor = await connect("/mcp/red-ev", keys["red.editor"]!.key);
    expect(await echo(editor.client!)).toContain("hi");
    const base = mesh.gateway.url;
    expect(await initializeStatus(base, "/mcp/red-ev", keys["red.viewer"]!.key)).toBe(403);
    expect(await initializeStatus(base, "/mcp/v/red-vs", keys["red.viewer"]!.key)).toBe(403);
    for (const path of ["/mcp/red-ev", `/mcp/${instanceIds.red}`, "/mcp/v/red-vs"]) {
      expect(await initializeStatus(base, path, keys["blue.admin"]!.key), path).toBe(404);
    }
    // The same answer as for an instance that does not exist at all.
    expect(await initializeStatus(base, "/mcp/no-such-instance", keys["blue.admin"]!.key)).toBe(
      404,
    );
  });

  it("answers the same over Connect (SDK) and gRPC", async () => {
    const blueSdk = createBerthClient({
      baseUrl: mesh.gateway.url,
      apiKey: keys["blue.admin"]!.key,
    });
    const hidden = await blueSdk.instances.getInstance({ id: instanceIds.red! }).catch((e) => e);
    expect(hidden).toBeInstanceOf(BerthError);
    expect((hidden as BerthError).code).toBe("NOT_FOUND");
    const agentSdk = createBerthClient({
      baseUrl: mesh.gateway.url,
      apiKey: keys["red.agent"]!.key,
    });
    const refused = await agentSdk.instances.listInstances({}).catch((e) => e);
    expect((refused as BerthError).code).toBe("PERMISSION_DENIED");
    const { teams } = await createBerthClient({
      baseUrl: mesh.gateway.url,
      apiKey: keys["red.viewer"]!.key,
    }).teams.listTeams({});
    expect(teams.map((t) => t.name)).toEqual(["red"]);

    const grpc = createClient(
      InstancesService,
      createGrpcTransport({
        baseUrl: mesh.gateway.url,
        interceptors: [
          (next) => (request) => {
            request.header.set("authorization", `Bearer ${keys["blue.admin"]!.key}`);
            return next(request);
          },
        ],
      }),
    );
    const overGrpc = await grpc.getInstance({ id: "red-ev" }).catch((e) => e);
    expect(ConnectError.from(overGrpc).code).toBe(Code.NotFound);
    const listed = await grpc.listInstances({});
    expect(listed.instances.map((i) => i.name)).toEqual(["blue-ev"]);
  });

  it("manages members with the CLI; a signed-in user acts with the roles of their memberships", {
    timeout: 180_000,
  }, async () => {
    const created = await admin("POST", "/v1/users", {
      username: "rita",
      password: PASSWORD,
      // Every scope: her roles, not her scopes, decide what she may do.
      scopes: ALL_SCOPES,
      team: "blue",
      role: "ROLE_VIEWER",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const berth = async (key: string, args: string[]) =>
      runBerth(args, { url: mesh.gateway.url, apiKey: key, timeoutMs: 150_000 });
    const added = await berth(keys["red.admin"]!.key, [
      "teams",
      "members",
      "add",
      "red",
      "rita",
      "--role",
      "agent",
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain("agent");
    const listed = await berth(keys["red.admin"]!.key, [
      "teams",
      "members",
      "list",
      "red",
      "-o",
      "json",
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).members).toEqual([
      expect.objectContaining({ username: "rita", role: "ROLE_AGENT" }),
    ]);
    const refused = await as("red.viewer")("PUT", "/v1/teams/red/members/rita", {
      role: "ROLE_ADMIN",
    });
    expect(refused.status).toBe(403);
    expect((await as("blue.admin")("GET", "/v1/teams/red/members")).status).toBe(404);
    expect((await as("blue.admin")("DELETE", "/v1/teams/red/members/rita")).status).toBe(404);
    const teamsOfRed = await berth(keys["red.admin"]!.key, ["teams", "list"]);
    expect(teamsOfRed.stdout).toContain("red");
    expect(teamsOfRed.stdout).not.toContain("blue");

    // Rita signs in (the embedded authorization server) for the whole gateway.
    const provider = new MemoryOAuthProvider();
    expect(await auth(provider, { serverUrl: mesh.gateway.url })).toBe("REDIRECT");
    const signedIn = await signIn(provider.authorizations[0]!, {
      username: "rita",
      password: PASSWORD,
    });
    if (signedIn.kind !== "code") throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
    expect(
      await auth(provider, { serverUrl: mesh.gateway.url, authorizationCode: signedIn.code }),
    ).toBe("AUTHORIZED");
    const token = provider.saved!.access_token;
    // A viewer of blue: blue's instances only; an agent of red: red's tools, not its records.
    const listedByRita = await call(token, "GET", "/v1/instances");
    expect((listedByRita.body.instances as Json[]).map((i) => i.name)).toEqual(["blue-ev"]);
    expect((await call(token, "GET", `/v1/instances/${instanceIds.red}`)).status).toBe(403);
    // Her admin scope does not make her an admin: a viewer of blue may not create there.
    expect(
      (
        await call(token, "POST", "/v1/instances", {
          instance: {
            name: "rita-ev",
            team: "blue",
            jsonSpec: { type: "url", endpoint: everything.url },
          },
        })
      ).status,
    ).toBe(403);
    expect((await call(token, "GET", "/v1/users")).status).toBe(403);
    // MCP: her token for the gateway is not for /mcp/red-ev (audience): connect with one that is.
    const mcpProvider = new MemoryOAuthProvider();
    expect(await auth(mcpProvider, { serverUrl: `${mesh.gateway.url}/mcp/red-ev` })).toBe(
      "REDIRECT",
    );
    const mcpSignIn = await signIn(mcpProvider.authorizations[0]!, {
      username: "rita",
      password: PASSWORD,
    });
    if (mcpSignIn.kind !== "code")
      throw new Error(`sign-in ended with ${JSON.stringify(mcpSignIn)}`);
    await auth(mcpProvider, {
      serverUrl: `${mesh.gateway.url}/mcp/red-ev`,
      authorizationCode: mcpSignIn.code,
    });
    const rita = await connect("/mcp/red-ev", mcpProvider.saved!.access_token);
    expect(await echo(rita.client!)).toContain("hi");
    // Removed from red: her next MCP session is refused as if red's instance did not exist.
    const removed = await berth(keys["red.admin"]!.key, [
      "teams",
      "members",
      "remove",
      "red",
      "rita",
    ]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(
      await initializeStatus(mesh.gateway.url, "/mcp/red-ev", mcpProvider.saved!.access_token),
    ).toBe(404);
  });

  it("records who did what: audit records name the key or the user", async () => {
    await waitFor(
      "change records of red's instance by red's editor key and MCP calls by red's agent key and rita",
      async () => {
        const records = ((await admin("GET", "/v1/auditRecords?pageSize=500")).body.auditRecords ??
          []) as Json[];
        const created = records.some(
          (r) =>
            r.actorKeyId === keys["red.editor"]!.id &&
            (r.change as Json | undefined)?.resourceName === "red-ev",
        );
        const agentCalls = records.some(
          (r) =>
            r.actorKeyId === keys["red.agent"]!.id &&
            (r.mcpCall as Json | undefined)?.method === "tools/call",
        );
        const ritaCalls = records.some(
          (r) => r.actorUser === "rita" && (r.mcpCall as Json | undefined)?.method === "tools/call",
        );
        const membership = records.some(
          (r) =>
            r.actorKeyId === keys["red.admin"]!.id &&
            (r.change as Json | undefined)?.resourceType === "Team",
        );
        const missing = Object.entries({ created, agentCalls, ritaCalls, membership })
          .filter(([, seen]) => !seen)
          .map(([name]) => name);
        if (missing.length > 0) throw new Error(`not yet recorded: ${missing.join(", ")}`);
        return true;
      },
      60_000,
    );
  });

  it("takes team memberships from an external issuer's groups claim, configured without code", {
    timeout: 120_000,
  }, async () => {
    external = await startExternalIssuer(() => federated.url);
    federated = await startFederatedGateway(mesh, engines, {
      issuer: external.issuer,
      teams: { "red-agents": { red: "agent" }, "blue-viewers": { blue: "viewer" } },
    });
    external.users.set("erin", PASSWORD);
    external.groups.set("erin", ["red-agents", "blue-viewers"]);
    const url = `${federated.url}/mcp/red-ev`;
    const provider = new MemoryOAuthProvider();
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    const client = new Client({ name: "teams-test", version: "1.0.0" });
    await expect(client.connect(transport, { timeout: 30_000 })).rejects.toThrow();
    const signedIn = await signIn(provider.authorizations[0]!, {
      username: "erin",
      password: PASSWORD,
    });
    if (signedIn.kind !== "code") throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
    await transport.finishAuth(signedIn.code);
    const erin = new Client({ name: "teams-test", version: "1.0.0" });
    await erin.connect(
      new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }),
      { timeout: 30_000 },
    );
    clients.push(erin);
    expect(await echo(erin)).toContain("hi");
    // Her token is for red-ev only (audience); for blue-ev she would be a viewer: no tools.
    const blueProvider = new MemoryOAuthProvider();
    const blueUrl = `${federated.url}/mcp/blue-ev`;
    expect(await auth(blueProvider, { serverUrl: blueUrl })).toBe("REDIRECT");
    const blueSignIn = await signIn(blueProvider.authorizations[0]!, {
      username: "erin",
      password: PASSWORD,
    });
    if (blueSignIn.kind !== "code")
      throw new Error(`sign-in ended with ${JSON.stringify(blueSignIn)}`);
    await auth(blueProvider, { serverUrl: blueUrl, authorizationCode: blueSignIn.code });
    expect(
      await initializeStatus(federated.url, "/mcp/blue-ev", blueProvider.saved!.access_token),
    ).toBe(403);
    // A user in no mapped group belongs to no team: the instance is not there for him.
    external.users.set("mallory", PASSWORD);
    external.groups.set("mallory", ["berth-users"]);
    const outsider = new MemoryOAuthProvider();
    expect(await auth(outsider, { serverUrl: url })).toBe("REDIRECT");
    const outsiderSignIn = await signIn(outsider.authorizations[0]!, {
      username: "mallory",
      password: PASSWORD,
    });
    if (outsiderSignIn.kind !== "code") throw new Error("mallory could not sign in");
    await auth(outsider, { serverUrl: url, authorizationCode: outsiderSignIn.code });
    expect(await initializeStatus(federated.url, "/mcp/red-ev", outsider.saved!.access_token)).toBe(
      404,
    );
  });
});
