import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useEngines } from "@berth/testkit";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureImages,
  newRunId,
  removeLeftovers,
} from "../../services/runtime/test/support/runtime-harness.js";
import { startMesh, type TestMesh } from "../support/mesh.js";
import { ARTIFACTS, launchChromium, seriousViolations } from "./support/browser.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = "io.github.acme/console-everything";
const INSTANCE = "console-ev";
const VIRTUAL = "console-vs";

// The team's day through the web console, in the distribution's Chromium against a real mesh
// (registry, instances, runtime with Docker, gateway): sign in, import, create with a secret,
// watch it run, call a tool through the MCP proxy, read logs, stop, delete, manage keys. Each
// page is screenshotted and checked with axe-core.
describe("the web console in a browser", () => {
  const runId = newRunId();
  const secret = `sk-console-${randomBytes(8).toString("hex")}`;
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  const shoot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const expectAccessible = async (on: Page = page) => {
    expect(await seriousViolations(on)).toEqual([]);
  };
  const rest = (path: string, apiKey: string, init: RequestInit = {}) =>
    fetch(`${mesh.gateway.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    });
  // Narrow screens: the page at a phone's width fits without a horizontal scroll (wide tables
  // scroll inside their own box).
  const expectFitsNarrow = async (name: string, on: Page = page) => {
    const before = on.viewportSize() ?? { width: 1280, height: 900 };
    await on.setViewportSize({ width: 390, height: 844 });
    try {
      await expect
        .poll(() => on.evaluate("document.documentElement.scrollWidth"), {
          timeout: 5_000,
          message: `${name} is wider than a 390 px screen`,
        })
        .toBeLessThanOrEqual(390);
      await on.screenshot({ path: join(ARTIFACTS, `${name}-narrow.png`), fullPage: true });
    } finally {
      await on.setViewportSize(before);
    }
  };
  const urlInstance = (name: string) =>
    rest("/v1/instances", mesh.apiKey, {
      method: "POST",
      body: JSON.stringify({
        instance: { name, jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" } },
      }),
    });

  beforeAll(async () => {
    // The bundle the gateway serves: built here too when missing or stale (as npm test does).
    execFileSync("bash", [join(ROOT, "scripts/build-console.sh")], { stdio: "inherit" });
    browser = await launchChromium();
    await ensureImages();
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) cspViolations.push(message.text());
    });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  }, 120_000);

  it("serves the console with its content type, caching and a strict CSP", async () => {
    const page = await fetch(`${mesh.gateway.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    const html = await page.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${mesh.gateway.url}${script}`);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${mesh.gateway.url}/ui/assets/missing.js`)).status).toBe(404);
  });

  it("signs in with an API key (a wrong one is refused at the field)", async () => {
    await page.goto(`${mesh.gateway.url}/ui`);
    await page.getByLabel("API key", { exact: true }).fill("berth_wrong_key");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect
      .poll(() => page.locator("#api-key-error").textContent())
      .toContain("UNAUTHENTICATED");
    await expectAccessible();
    await shoot("sign-in");
    await expectFitsNarrow("sign-in");
    await page.getByLabel("API key", { exact: true }).fill(mesh.apiKey);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Instances" }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("berth.apiKey")')).toBe(mesh.apiKey);
  });

  it("imports a catalog entry from a server.json file and shows its env_schema", async () => {
    await page.getByRole("link", { name: "Catalog" }).click();
    const serverJson = JSON.parse(
      readFileSync(join(ROOT, "packages/cli/examples/team-everything.json"), "utf8"),
    );
    serverJson.name = SERVER;
    await page.getByLabel("From a file").setInputFiles({
      name: "server.json",
      mimeType: "application/json",
      buffer: Buffer.from(JSON.stringify(serverJson)),
    });
    await expect.poll(() => page.locator("#import-json").inputValue()).toContain(SERVER);
    await page.getByRole("button", { name: "Import" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Imported ${SERVER}` })
      .waitFor();
    const variables = page.getByRole("table", { name: `Variables of ${SERVER}` });
    await variables.getByRole("row", { name: /UPSTREAM_API_KEY/ }).waitFor();
    expect(await variables.getByRole("row", { name: /UPSTREAM_API_KEY/ }).textContent()).toMatch(
      /required.*secret/,
    );
    // Search keeps only the matching entries listed.
    await page.getByRole("searchbox", { name: "Search the catalog" }).fill("console-everything");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect
      .poll(
        () =>
          page
            .locator("tr[data-server]")
            .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-server")).join(",")),
        { timeout: 20_000, message: "the search did not narrow the list to the imported entry" },
      )
      .toBe(SERVER);
    // Export downloads the entry as a server.json.
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export server.json" }).click();
    const exported = JSON.parse(readFileSync(await (await download).path(), "utf8"));
    expect(exported.name).toBe(SERVER);
    expect(JSON.stringify(exported)).toContain("UPSTREAM_API_KEY");
    await expectAccessible();
    await shoot("catalog");
    await expectFitsNarrow("catalog");
  });

  it("creates an instance from the generated form: a missing secret is reported at its field", async () => {
    await page.getByRole("link", { name: "Instances" }).click();
    await page.getByRole("button", { name: "New instance" }).click();
    await page.getByRole("combobox", { name: "Catalog entry" }).click();
    await page.getByRole("option", { name: SERVER }).click();
    await page.getByLabel("Name (required)").fill(INSTANCE);
    const secretInput = page.locator("#env-UPSTREAM_API_KEY");
    expect(await secretInput.getAttribute("type")).toBe("password");
    expect(await page.locator("#env-GREETING").inputValue()).toBe("hello"); // default filled
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const fieldError = page.locator("#env-UPSTREAM_API_KEY-error");
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toContain("is required");
    expect(await secretInput.getAttribute("aria-invalid")).toBe("true");
    await expectAccessible();
    await shoot("create-form-error");

    await secretInput.fill(secret);
    await page.evaluate("window.notReloaded = true");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const row = page.locator(`tr[data-instance="${INSTANCE}"]`);
    // RUNNING arrives over the watch stream: the page is never reloaded.
    await row.locator('[data-status="RUNNING"]').waitFor({ timeout: 90_000 });
    expect(await page.evaluate("window.notReloaded")).toBe(true);
    expect(await page.content()).not.toContain(secret);
    await expectAccessible();
    await shoot("instances");
    copyFileSync(join(ARTIFACTS, "instances.png"), join(ROOT, "docs/console-instances.png"));
    await expectFitsNarrow("instances");
  }, 120_000);

  it("keeps the whole list live over one WatchInstances stream: instances made and deleted elsewhere", async () => {
    const streams: string[] = [];
    const onRequest = (request: { url(): string }) => {
      const method = /InstancesService\/(WatchInstances?)$/.exec(request.url())?.[1];
      if (method) streams.push(method);
    };
    page.on("request", onRequest);
    try {
      await page.reload();
      await page.locator(`tr[data-instance="${INSTANCE}"] [data-status="RUNNING"]`).waitFor();
      await page.locator('[data-live="live"]').waitFor();
      await page.evaluate("window.notReloaded = true");
      // Made and deleted through the API, not this page: the rows follow the stream.
      expect((await urlInstance("console-url-a")).status).toBe(200);
      await page.locator('tr[data-instance="console-url-a"]').waitFor();
      expect(
        (await rest("/v1/instances/console-url-a", mesh.apiKey, { method: "DELETE" })).status,
      ).toBe(200);
      await expect
        .poll(() => page.locator('tr[data-instance="console-url-a"]').count(), { timeout: 60_000 })
        .toBe(0);
      expect(await page.evaluate("window.notReloaded")).toBe(true);
      // One collection-wide stream per (re)connection, never one per row.
      expect(streams.filter((s) => s === "WatchInstance")).toEqual([]);
      expect(streams.filter((s) => s === "WatchInstances")).toEqual(["WatchInstances"]);
    } finally {
      page.off("request", onRequest);
    }
  }, 120_000);

  it("lists the instance's tools, calls one from the try panel and follows its logs", async () => {
    await page.getByRole("link", { name: INSTANCE }).click();
    await page.getByRole("heading", { name: INSTANCE }).waitFor();
    await page.getByRole("table", { name: "Tools" }).getByText("echo", { exact: true }).waitFor();
    const tool = page.getByRole("combobox", { name: "Tool" });
    await expect.poll(() => tool.isEnabled()).toBe(true);
    await tool.click();
    await page.getByRole("option", { name: "echo", exact: true }).click();
    await page.getByLabel(/^message/).fill("hello from the console");
    await page.getByRole("button", { name: "Call tool" }).click();
    await expect
      .poll(() => page.getByTestId("tool-result").textContent())
      .toBe("Echo: hello from the console");
    const logs = page.getByRole("log", { name: "Log lines" });
    await expect.poll(() => logs.textContent(), { timeout: 30_000 }).not.toBe("(no lines yet)");

    // The instance's chart of calls and errors is drawn from the audit trail: once the echo
    // call is recorded, the chart counts exactly the MCP calls (and failures) the trail holds.
    const chart = page.locator(`[data-chart-instance="${INSTANCE}"]`);
    const since = new Date(Date.now() - 60 * 60_000).toISOString();
    let recorded = { calls: -1, errors: -1 };
    await expect
      .poll(
        async () => {
          const answer = (await (
            await rest(
              `/v1/auditRecords?kind=AUDIT_RECORD_KIND_MCP_CALL&instance=${INSTANCE}&pageSize=500&startTime=${since}`,
              mesh.apiKey,
            )
          ).json()) as {
            auditRecords?: Array<{ mcpCall: { tool?: string; method: string; outcome: string } }>;
          };
          const calls = (answer.auditRecords ?? []).map((r) => r.mcpCall);
          if (!calls.some((c) => c.method === "tools/call" && c.tool === "echo")) return "no echo";
          recorded = {
            calls: calls.length,
            errors: calls.filter((c) => c.outcome !== "MCP_CALL_OUTCOME_OK").length,
          };
          await page.getByRole("button", { name: "Refresh chart" }).click();
          const shown = {
            calls: Number(await chart.getAttribute("data-calls", { timeout: 1_000 })),
            errors: Number(await chart.getAttribute("data-errors", { timeout: 1_000 })),
          };
          return JSON.stringify(shown) === JSON.stringify(recorded)
            ? "same"
            : `chart ${JSON.stringify(shown)}, trail ${JSON.stringify(recorded)}`;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe("same");
    expect(recorded.calls).toBeGreaterThanOrEqual(1);
    expect(await chart.locator("svg").getAttribute("aria-label")).toMatch(
      new RegExp(
        `^${INSTANCE}: ${recorded.calls} calls, ${recorded.errors} errors in the last hour`,
      ),
    );
    expect(await chart.locator("svg rect.chart-calls").count()).toBeGreaterThanOrEqual(1);
    await expectAccessible();
    await shoot("instance-detail");
    await expectFitsNarrow("instance-detail");
  }, 90_000);

  it("composes a virtual server over the instance (errors at their fields) and previews its tools/list", async () => {
    await page.getByRole("link", { name: "Virtual servers" }).click();
    await page.getByRole("heading", { name: "Virtual servers" }).waitFor();
    await page.getByRole("link", { name: "New virtual server" }).click();
    await page.getByRole("heading", { name: "New virtual server" }).waitFor();
    // Nothing filled in: the gateway's violations land at the name and the member's instance.
    await page.getByRole("button", { name: "Create virtual server" }).click();
    await expect.poll(() => page.locator("#vs-name-error").textContent()).toContain("is required");
    expect(await page.locator("#vs-m0-instance-error").textContent()).toContain("is required");
    expect(await page.locator("#vs-name").getAttribute("aria-invalid")).toBe("true");
    await expectAccessible();
    await shoot("virtual-server-form-error");

    await page.getByLabel("Name (required)").fill(VIRTUAL);
    await page.getByRole("combobox", { name: "Instance (required)" }).click();
    await page.getByRole("option", { name: INSTANCE }).click();
    await page.getByRole("combobox", { name: "Namespace prefix" }).click();
    await page.getByRole("option", { name: "A prefix of my own" }).click();
    await page.getByLabel("Prefix", { exact: true }).fill("ev");
    await page.getByRole("combobox", { name: "Separator" }).click();
    await page.getByRole("option", { name: ".", exact: true }).click();
    await page.getByLabel("Allow tools").fill("echo\nget-sum");
    await page.getByRole("button", { name: "Add a tool override to member 1" }).click();
    await page.getByLabel("Member tool (required)").fill("get-sum");
    await page.getByLabel("Pinned arguments").fill("not json");
    await page.getByRole("button", { name: "Create virtual server" }).click();
    await expect
      .poll(() => page.locator("#vs-m0-o0-pinned-error").textContent())
      .toContain("must be valid JSON");
    await page.getByLabel("Pinned arguments").fill('{"b": 10}');
    await page.getByRole("button", { name: "Add a tool override to member 1" }).click();
    await page.locator("#vs-m0-o1-tool").fill("echo");
    await page.locator("#vs-m0-o1-name").fill("shout");
    await page.locator("#vs-m0-o1-description").fill("Echoes loudly");
    await page.getByRole("button", { name: "Create virtual server" }).click();
    await page.getByRole("heading", { name: VIRTUAL, exact: true }).waitFor();

    // The preview is the tools/list an MCP client gets at /mcp/v/{name}.
    const preview = page.getByRole("table", { name: `Tools of ${VIRTUAL}` });
    await preview.waitFor({ timeout: 30_000 });
    expect((await preview.locator("tbody th").allTextContents()).sort()).toEqual([
      "ev.get-sum",
      "shout",
    ]);
    const shout = preview.getByRole("row", { name: /^shout/ });
    expect(await shout.textContent()).toBe("shoutEchoes loudlymessage");
    // b is pinned: clients see only a.
    expect(
      await preview
        .getByRole("row", { name: /^ev\.get-sum/ })
        .locator("td")
        .last()
        .textContent(),
    ).toBe("a");
    const stored = await rest(`/v1/virtualServers/${VIRTUAL}`, mesh.apiKey);
    expect(((await stored.json()) as { endpoint: string }).endpoint).toBe(`/mcp/v/${VIRTUAL}`);

    // The same try panel as an instance's, through the virtual server: the pinned b is added.
    const tool = page.getByRole("combobox", { name: "Tool" });
    await expect.poll(() => tool.isEnabled()).toBe(true);
    await tool.click();
    await page.getByRole("option", { name: "ev.get-sum", exact: true }).click();
    await page.getByLabel(/^a/).fill("5");
    await page.getByRole("button", { name: "Call tool" }).click();
    await expect.poll(() => page.getByTestId("tool-result").textContent()).toContain("15");
    await expectAccessible();
    await shoot("virtual-server");
    await expectFitsNarrow("virtual-server");

    await page.getByRole("link", { name: "← Virtual servers" }).click();
    await page.locator(`tr[data-virtual-server="${VIRTUAL}"]`).waitFor();
    expect(await page.locator(`tr[data-virtual-server="${VIRTUAL}"]`).textContent()).toContain(
      INSTANCE,
    );
    await expectAccessible();
    await shoot("virtual-servers");
  }, 120_000);

  it("finds the try panel's tool call in the audit trail, filtered by tool, and charts it", async () => {
    await page.getByRole("link", { name: "Audit trail" }).click();
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    await page.getByLabel("Tool", { exact: true }).fill("echo");
    const echoRows = page.locator('tr[data-tool="echo"]');
    const records = page.getByRole("table", { name: /Audit records/ });
    // Records are written as the calls end, and the page first shows the unfiltered trail: ask
    // again until the filtered answer is on screen (every listed record a call of echo) and
    // holds this instance's call.
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Apply filters" }).click();
          const listed = await records.locator("tbody tr").count();
          const echo = await echoRows.count();
          const mine = await echoRows.filter({ hasText: INSTANCE }).count();
          return listed === echo && mine > 0;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(true);
    expect(await echoRows.filter({ hasText: INSTANCE }).first().textContent()).toContain("OK");
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh chart" }).click();
          return page.locator(`[data-chart-instance="${INSTANCE}"] svg`).count();
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(1);
    expect(
      await page.locator(`[data-chart-instance="${INSTANCE}"] svg`).getAttribute("aria-label"),
    ).toMatch(new RegExp(`^${INSTANCE}: \\d+ calls, \\d+ errors in the last hour`));
    await expectAccessible();
    await shoot("audit");
    await expectFitsNarrow("audit");
  }, 90_000);

  it("deletes the virtual server", async () => {
    await page.getByRole("link", { name: "Virtual servers" }).click();
    await page.getByRole("link", { name: VIRTUAL }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete virtual server" }).click();
    await page.getByRole("heading", { name: "Virtual servers" }).waitFor();
    await expect.poll(() => page.locator(`tr[data-virtual-server="${VIRTUAL}"]`).count()).toBe(0);
    expect((await rest(`/v1/virtualServers/${VIRTUAL}`, mesh.apiKey)).status).toBe(404);
  });

  it("creates a key (shown once) with scopes and an instance limit, then revokes it", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByLabel("Name (required)").fill("console-ci");
    await page.getByRole("checkbox", { name: /^mcp/ }).click();
    await page.getByLabel("Instances", { exact: true }).fill(INSTANCE);
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("new-key").textContent()) ?? "";
    expect(key).toMatch(/^berth_/);
    expect((await rest("/v1/instances", key)).status).toBe(200);
    const row = page.locator('tr[data-key="console-ci"]');
    expect(await row.textContent()).toContain("read, mcp");
    expect(await row.textContent()).toContain(INSTANCE);
    await expectAccessible();
    await shoot("api-keys");
    await expectFitsNarrow("api-keys");
    await row.getByRole("button", { name: "Revoke console-ci" }).click();
    await page.getByRole("button", { name: "Revoke key" }).click();
    await row.getByText("REVOKED").waitFor();
    expect((await rest("/v1/instances", key)).status).toBe(401);
  });

  it("signs in as a user made through the API (authorization code + PKCE at the embedded server): refused scopes at the field, the instances page, refresh, try a tool, sign out", async () => {
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const made = await rest("/v1/users", mesh.apiKey, {
      method: "POST",
      body: JSON.stringify({
        username: "console-user",
        password,
        scopes: ["API_KEY_SCOPE_WRITE", "API_KEY_SCOPE_MCP"],
      }),
    });
    expect(made.status, await made.clone().text()).toBe(200);
    const userContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const user = await userContext.newPage();
    user.setDefaultTimeout(20_000);
    const signInThere = async () => {
      await user.getByRole("button", { name: "Sign in as a user" }).click();
      await user.getByRole("heading", { name: "Sign in to Berth" }).waitFor();
      expect(new URL(user.url()).pathname).toMatch(/^\/oauth\/interaction\//);
      await expectAccessible(user);
      await user.screenshot({ path: join(ARTIFACTS, "oauth-sign-in.png"), fullPage: true });
      await user.getByLabel("User name").fill("console-user");
      await user.getByLabel("Password").fill(password);
      await user.getByRole("button", { name: "Sign in and allow" }).click();
    };
    try {
      await user.goto(`${mesh.gateway.url}/ui`);
      // Asking for more than the user was given: the server refuses, the console says why.
      await user.getByRole("radio", { name: /admin/ }).click();
      await signInThere();
      await expect
        .poll(() => user.locator("#user-access-error").textContent(), { timeout: 20_000 })
        .toContain("may not have scope admin");
      expect(new URL(user.url()).search).toBe("");
      await expectAccessible(user);
      await user.screenshot({ path: join(ARTIFACTS, "sign-in-user-refused.png"), fullPage: true });

      await user.getByRole("radio", { name: /write, mcp/ }).click();
      await signInThere();
      await user.getByRole("heading", { name: "Instances" }).waitFor();
      await user.locator(`tr[data-instance="${INSTANCE}"] [data-status="RUNNING"]`).waitFor();
      expect(await user.getByTestId("signed-in-as").textContent()).toBe(
        "Signed in as console-user",
      );
      const stored = async () =>
        JSON.parse(
          (await user.evaluate('sessionStorage.getItem("berth.oauth.tokens")')) as string,
        ) as { accessToken: string; refreshToken: string; expiresAt: number; scope: string };
      const first = await stored();
      expect(first.scope.split(" ").sort()).toEqual(["mcp", "write"]);
      expect(await user.evaluate('sessionStorage.getItem("berth.apiKey")')).toBeNull();
      expect(new URL(user.url()).search).toBe("");
      // The token is a bearer credential on the REST API too, with the user's scopes.
      expect((await rest("/v1/instances", first.accessToken)).status).toBe(200);
      expect((await rest("/v1/apiKeys", first.accessToken)).status).toBe(403);
      await expectAccessible(user);
      await user.screenshot({ path: join(ARTIFACTS, "instances-as-user.png"), fullPage: true });

      // An access token about to expire is refreshed before the next call.
      await user.evaluate(
        `sessionStorage.setItem("berth.oauth.tokens", JSON.stringify({ ...JSON.parse(sessionStorage.getItem("berth.oauth.tokens")), expiresAt: 0 }))`,
      );
      await user.reload();
      await user.locator(`tr[data-instance="${INSTANCE}"] [data-status="RUNNING"]`).waitFor();
      const refreshed = await stored();
      expect(refreshed.accessToken).not.toBe(first.accessToken);
      expect(refreshed.expiresAt).toBeGreaterThan(Date.now());

      // The try panel calls through the MCP proxy with the user's token.
      await user.getByRole("link", { name: INSTANCE }).click();
      await user.getByRole("heading", { name: INSTANCE }).waitFor();
      const tool = user.getByRole("combobox", { name: "Tool" });
      await expect
        .poll(() => tool.isEnabled(), { timeout: 30_000, message: "the MCP session did not open" })
        .toBe(true);
      await tool.click();
      await user.getByRole("option", { name: "echo", exact: true }).click();
      await user.getByLabel(/^message/).fill("hello as a user");
      await user.getByRole("button", { name: "Call tool" }).click();
      await expect
        .poll(() => user.getByTestId("tool-result").textContent(), { timeout: 20_000 })
        .toBe("Echo: hello as a user");

      // Signing out forgets the tokens and revokes the refresh token.
      const revocation = user.waitForResponse((r) => r.url().endsWith("/oauth/token/revocation"));
      await user.getByRole("button", { name: "Sign out" }).click();
      expect((await revocation).status()).toBe(200);
      await user.getByRole("button", { name: "Sign in as a user" }).waitFor();
      expect(await user.evaluate('sessionStorage.getItem("berth.oauth.tokens")')).toBeNull();
      const answer = await fetch(`${mesh.gateway.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: refreshed.refreshToken,
          client_id: "berth-console",
        }),
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: string }).error).toBe("invalid_grant");
    } finally {
      await userContext.close();
    }
  }, 120_000);

  it("stops and deletes the instance with progress shown live", async () => {
    await page.getByRole("link", { name: "Instances" }).click();
    await page.getByRole("link", { name: INSTANCE }).click();
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await page.locator('[data-status="STOPPED"]').waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete instance" }).click();
    await page.getByRole("heading", { name: "Instances" }).waitFor();
    await expect
      .poll(() => page.locator(`tr[data-instance="${INSTANCE}"]`).count(), { timeout: 60_000 })
      .toBe(0);
    const gone = await rest(`/v1/instances/${INSTANCE}`, mesh.apiKey);
    expect([404, 200]).toContain(gone.status);
  }, 120_000);

  it("renders the API reference at /docs with Swagger UI, offline and under the CSP", async () => {
    const offsite: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(mesh.gateway.url) && !request.url().startsWith("data:"))
        offsite.push(request.url());
    });
    await page.goto(`${mesh.gateway.url}/docs`);
    await page.getByRole("heading", { name: /Berth/ }).first().waitFor();
    await page.getByText("/v1/instances/{id}:watch").first().waitFor();
    expect(offsite).toEqual([]);
    await expectAccessible();
    await shoot("docs");
  });

  it("lists dead letters, and no page broke the Content-Security-Policy", async () => {
    await page.goto(`${mesh.gateway.url}/ui`);
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();
    await page
      .getByText(/No dead letters|Replay/)
      .first()
      .waitFor();
    await expectAccessible();
    await shoot("dead-letters");
    expect(cspViolations).toEqual([]);
  });
});
