// Diagnostic preload (node --import), never part of Berth: every net.Server created in the
// process accepts its connections with TCP_NODELAY, as node's http servers do by default. The
// bench runs a second gateway with it to show what Nagle's algorithm costs the MCP proxy.
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";

const original = net.createServer;
function createServer(...args: unknown[]): net.Server {
  const options = typeof args[0] === "object" && args[0] !== null ? args.shift() : {};
  return (original as (...a: unknown[]) => net.Server)(
    { ...(options as object), noDelay: true },
    ...args,
  );
}
net.createServer = createServer as typeof net.createServer;
syncBuiltinESMExports();
