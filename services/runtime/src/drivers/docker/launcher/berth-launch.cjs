// Berth's secret launcher, mounted read-only into a container whose server runs on node: the
// runtime starts `node /berth/launch.cjs <script> <args…>` instead of `node <script> <args…>` and
// writes one line of JSON ({"env":{"NAME":"value"}}) to its stdin right after start. The values go
// into the environment and the script runs in this process, so they never appear in `docker
// inspect`, in Docker's files on disk, in an image layer or in any process's argv. stdin is read
// byte by byte, so the rest of it (a stdio server's JSON-RPC) is left to the server. The Swarm
// driver hands the same line over as a Swarm secret file instead (BERTH_SECRETS_FILE).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { pathToFileURL } = require("node:url");

function fail(message) {
  process.stderr.write(`berth-launch: ${message}\n`);
  process.exit(70);
}

function readLine() {
  const bytes = [];
  const one = Buffer.alloc(1);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, one, 0, 1, null);
    } catch (error) {
      if (error.code === "EAGAIN") {
        Atomics.wait(nap, 0, 0, 5);
        continue;
      }
      throw error;
    }
    if (n === 0) fail("stdin ended before the secrets line");
    if (one[0] === 10) return Buffer.from(bytes).toString("utf8");
    bytes.push(one[0]);
    if (bytes.length > 1 << 20) fail("the secrets line is longer than 1 MiB");
  }
}

// The line comes from stdin, or from the file BERTH_SECRETS_FILE names (a Swarm secret the
// engine mounts on a tmpfs; the variable holds its path, never a value). stdin then stays the
// server's own.
function readSecrets() {
  const file = process.env.BERTH_SECRETS_FILE;
  if (!file) return readLine();
  delete process.env.BERTH_SECRETS_FILE;
  try {
    return fs.readFileSync(file, "utf8").split("\n")[0];
  } catch (error) {
    fail(`cannot read the secrets file: ${error.code || error}`);
  }
}

let env;
try {
  env = JSON.parse(readSecrets()).env;
} catch {
  fail("the secrets line is not JSON");
}
if (!env || typeof env !== "object") fail("the secrets line has no env object");
for (const [key, value] of Object.entries(env)) process.env[key] = String(value);

const [script, ...args] = process.argv.slice(2);
if (!script) fail("no script to run");
if (script.startsWith("-")) {
  // node options before the script: run a second node with them (signals forwarded).
  const child = spawn(process.execPath, [script, ...args], { stdio: "inherit" });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"])
    process.on(signal, () => child.kill(signal));
  child.on("error", (error) => fail(String(error)));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
} else {
  process.argv = [process.execPath, path.resolve(script), ...args];
  import(pathToFileURL(process.argv[1]).href).catch((error) => fail(String(error)));
}
