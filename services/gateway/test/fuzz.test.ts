import * as http from "node:http";
import * as net from "node:net";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FuzzCase, fuzzCases, seeded } from "./support/fuzz-cases.js";
import { type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

const COUNT = 3_000;
const PARALLEL = 16;
const LIMIT = 16 * 1024;
const SEED = Number(process.env.FUZZ_SEED ?? 20_251_122);

/** Sends one request as written (no path normalization); resolves with the status. */
function send(base: URL, agent: http.Agent, c: FuzzCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = c.body === undefined ? undefined : Buffer.from(c.body);
    const req = http.request({
      host: base.hostname,
      port: base.port,
      method: c.method,
      path: c.path,
      agent,
      headers: { ...c.headers, ...(body ? { "content-length": String(body.length) } : {}) },
      timeout: 10_000,
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Bytes that are not valid HTTP; resolves with the status line the server answers. */
function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
    });
    socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
    socket.on("error", () => undefined);
    socket.end(bytes);
  });
}

describe("fuzz: malformed requests", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, {
      services: ["registry"],
      env: {
        MAX_BODY_BYTES: String(LIMIT),
        RATE_LIMIT_PER_SECOND: "100000",
        RATE_LIMIT_BURST: "100000",
      },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  it(`answers ${COUNT} malformed requests with a 4xx each and stays up`, {
    timeout: 180_000,
  }, async () => {
    const cases = fuzzCases(seeded(SEED), COUNT, mesh.adminKey, LIMIT);
    const base = new URL(mesh.gateway.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
    const wrong: string[] = [];
    const deadline = Date.now() + 150_000;
    let next = 0;
    const worker = async () => {
      while (next < cases.length && Date.now() < deadline) {
        const c = cases[next++]!;
        // -1: the connection failed instead of answering, which counts as wrong.
        const status = await send(base, agent, c).catch(() => -1);
        if (status < 400 || status > 499)
          wrong.push(`${status} ${c.kind}: ${c.method} ${c.path.slice(0, 80)}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    agent.destroy();
    expect(next, "every case was sent in time").toBe(cases.length);
    expect(wrong, `seed ${SEED}`).toEqual([]);

    for (const raw of [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST /v1/servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\nX: ${"b".repeat(20_000)}\r\n\r\n`,
    ]) {
      expect(await sendRaw(Number(base.port), raw)).toMatch(/^HTTP\/1\.1 4\d\d /);
    }

    expect((await fetch(`${mesh.gateway.url}/healthz`)).status).toBe(200);
    const ok = await mesh.rest("POST", "/v1/servers", {
      name: "still-up",
      transport: "TRANSPORT_STDIO",
    });
    expect(ok.status).toBe(200);
  });
});
