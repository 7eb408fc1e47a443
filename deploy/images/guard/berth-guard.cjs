// Berth's port guard: the only published port of an HTTP-transport MCP server container. The server
// itself sits on an internal Docker network (no route to the host or the internet, no published
// port); this process is on that network and on a normal bridge, listens on GUARD_PORT and pipes
// raw bytes to the server (UPSTREAM, host:port by its network alias) for connections that open
// with the instance's credential:
//
//   BERTH-GUARD <credential>\r\n        then ordinary HTTP/1.1, kept alive, never parsed
//
// The credential line is consumed here, so it never reaches the server. A connection that opens
// with anything else (a plain HTTP request from a local process) gets 401 and is closed. The
// credential arrives as the first line of stdin (never in the environment, argv or `docker
// inspect`); the guard listens only once it has it.
"use strict";
const net = require("node:net");
const { timingSafeEqual } = require("node:crypto");

const PREFIX = "BERTH-GUARD ";
const MAX_LINE = 256; // "BERTH-GUARD " + a 64-character credential + CRLF fits well inside
const HANDSHAKE_MS = 10_000;
const UNAUTHORIZED =
  "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 54\r\n" +
  "connection: close\r\n\r\nthis port needs the Berth runtime's per-instance guard\n";

function fail(message) {
  process.stderr.write(`berth-guard: ${message}\n`);
  process.exit(70);
}

const listenPort = Number.parseInt(process.env.GUARD_PORT ?? "8080", 10);
const upstream = process.env.UPSTREAM ?? "";
const at = upstream.lastIndexOf(":");
const upstreamHost = upstream.slice(0, at);
const upstreamPort = Number.parseInt(upstream.slice(at + 1), 10);
if (at <= 0 || !Number.isInteger(upstreamPort)) fail("UPSTREAM must be host:port");

/** Reads the credential line from stdin, then starts listening. */
function readCredential() {
  let buffered = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buffered += chunk;
    const end = buffered.indexOf("\n");
    if (end === -1) {
      if (buffered.length > MAX_LINE) fail("the credential line is too long");
      return;
    }
    const credential = buffered.slice(0, end).trim();
    // stdin closes after this line (StdinOnce): nothing more is read from it.
    process.stdin.removeAllListeners("data");
    process.stdin.removeAllListeners("end");
    process.stdin.on("error", () => undefined);
    process.stdin.destroy();
    if (credential.length < 32) fail("the credential line is too short");
    listen(Buffer.from(`${PREFIX}${credential}\r\n`));
  });
  process.stdin.on("end", () => fail("stdin ended before the credential line"));
}

function listen(expected) {
  const server = net.createServer({ noDelay: true }, (client) => {
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HANDSHAKE_MS);
    client.on("error", () => client.destroy());
    const onData = (chunk) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(10);
      if (end === -1 && head.length < MAX_LINE) return;
      client.off("data", onData);
      client.pause();
      clearTimeout(timer);
      const line = head.subarray(0, end + 1);
      if (end === -1 || line.length !== expected.length || !timingSafeEqual(line, expected)) {
        client.end(UNAUTHORIZED);
        return;
      }
      const server = net.connect({ host: upstreamHost, port: upstreamPort, noDelay: true });
      server.on("error", () => client.destroy());
      client.on("error", () => server.destroy());
      client.on("close", () => server.destroy());
      server.on("close", () => client.destroy());
      const rest = head.subarray(end + 1);
      if (rest.length > 0) server.write(rest);
      client.pipe(server);
      server.pipe(client);
    };
    client.on("data", onData);
  });
  server.on("error", (error) => fail(`cannot listen: ${error.message}`));
  server.listen(listenPort, "0.0.0.0");
}

readCredential();
