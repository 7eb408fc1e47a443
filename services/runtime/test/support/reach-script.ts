/**
 * Dials PROBE_PORT on each of PROBE_HOSTS and on its own network's first address (a gateway's
 * place), prints `REACH <host> <ok|error code>` for each and `REACH done`, then idles.
 */
export const REACH_SCRIPT = `
const net = require("node:net"), os = require("node:os");
const port = Number(process.env.PROBE_PORT);
const targets = (process.env.PROBE_HOSTS || "").split(",").filter(Boolean);
for (const list of Object.values(os.networkInterfaces()))
  for (const a of list || []) {
    if (a.family !== "IPv4" || a.internal) continue;
    const bits = Number(a.cidr.split("/")[1]);
    const ip = a.address.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    const first = ip - (ip % 2 ** (32 - bits)) + 1;
    targets.push([24, 16, 8, 0].map((s) => Math.floor(first / 2 ** s) % 256).join("."));
  }
let left = targets.length;
if (left === 0) console.log("REACH done");
for (const host of targets) {
  const socket = net.connect({ host, port, timeout: 3000 });
  const done = (result) => {
    socket.destroy();
    console.log("REACH " + host + " " + result);
    if (--left === 0) console.log("REACH done");
  };
  socket.once("connect", () => done("ok"));
  socket.once("timeout", () => done("timeout"));
  socket.once("error", (e) => done(e.code || "error"));
}
setInterval(() => {}, 1 << 30);
`;
