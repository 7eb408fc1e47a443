import { randomUUID } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** What the load saw and what the mesh acknowledged: the ledger the assertions check. */
export interface Ledger {
  /** HTTP statuses of every answered REST call and MCP exchange, by status. */
  statuses: Map<number, number>;
  /** Calls that found no gateway listening (it was killed): retried, not answers. */
  unreachable: number;
  /** Creates acknowledged: instance id → name. */
  created: Map<string, string>;
  /** Updates acknowledged per instance, and the description the last one set. */
  updates: Map<string, { count: number; description: string }>;
  /** Deletes acknowledged. */
  deleted: Set<string>;
  /** A retry with the same request id that answered differently (a duplicate, a 409). */
  inconsistencies: string[];
  /** Operations still unanswered when their time ran out. */
  abandoned: string[];
  /** MCP tool calls answered with the echo. */
  mcpCalls: number;
  /** Each MCP tool call: when it began (ms since the epoch) and the attempts it took (1 = no retry). */
  mcpAttempts: Array<{ at: number; attempts: number }>;
  /** 4xx answers to the deliberate mistakes (the client's own), and their count. */
  mistakes: number;
  /** The first answers that were neither success, 4xx nor 503: what was called and what it said. */
  odd: string[];
}

export function newLedger(): Ledger {
  return {
    statuses: new Map(),
    unreachable: 0,
    created: new Map(),
    updates: new Map(),
    deleted: new Set(),
    inconsistencies: [],
    abandoned: [],
    mcpCalls: 0,
    mcpAttempts: [],
    mistakes: 0,
    odd: [],
  };
}

const RETRY_MS = 250;
const MAX_ODD = 20;
// As long as the suite waits for convergence: a restart on a busy machine can take over a minute,
// and an operation retried on 503 meanwhile is not abandoned.
const OP_DEADLINE_MS = 180_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fields of REST answers the load and the assertions read. */
export interface AnswerBody {
  id?: string;
  name?: string;
  revision?: string;
  instances?: Array<Record<string, string>>;
  nextPageToken?: string;
}

/** The load against one gateway. */
export interface Load {
  /** One REST call, retried on 503 and on no gateway (same body, same request id), as the SDK does. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: AnswerBody }>;
  /** Every instance (bounded pages). */
  list(): Promise<Array<Record<string, string>>>;
  /**
   * Waits until every instance's observed status is its desired one and no acknowledged delete
   * is still listed; resolves with the ms it took, throws naming what lags after limitMs.
   */
  converged(limitMs: number, note?: (text: string) => void): Promise<number>;
  /** Runs the mixed load until stop() (bounded by maxOps per loop). */
  run(options: {
    urlEndpoint: string;
    mcpInstances: string[];
    maxOps: number;
    /** health_check of the url instances it creates. */
    health: { interval: number; timeout: number };
  }): {
    stop(): Promise<void>;
    /** When the last create, update or delete was acknowledged (ms since the epoch; 0: none). */
    lastAcknowledgedAt(): number;
  };
}

export function createLoad(gatewayUrl: string, apiKey: string, ledger: Ledger): Load {
  const count = (status: number) =>
    ledger.statuses.set(status, (ledger.statuses.get(status) ?? 0) + 1);

  const call: Load["call"] = async (method, path, body) => {
    const deadline = Date.now() + OP_DEADLINE_MS;
    for (;;) {
      let response: Response | undefined;
      try {
        response = await fetch(`${gatewayUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(15_000),
        });
      } catch {
        ledger.unreachable++;
      }
      if (response) {
        count(response.status);
        const text = await response.text();
        if (response.status >= 500 && response.status !== 503 && ledger.odd.length < MAX_ODD) {
          ledger.odd.push(`${method} ${path} → ${response.status} ${text.slice(0, 300)}`);
        }
        if (response.status !== 503) {
          return { status: response.status, json: (text ? JSON.parse(text) : {}) as AnswerBody };
        }
      }
      if (Date.now() > deadline) {
        ledger.abandoned.push(`${method} ${path}`);
        return { status: 0, json: {} };
      }
      await sleep(RETRY_MS);
    }
  };

  let serial = 0;
  let lastAcknowledgedAt = 0;
  const acknowledged = () => {
    lastAcknowledgedAt = Date.now();
  };
  const createOne = async (urlEndpoint: string, health: { interval: number; timeout: number }) => {
    const requestId = randomUUID();
    const name = `load-${Date.now().toString(36)}-${serial++}`;
    const body = {
      instance: {
        name,
        jsonSpec: { type: "url", endpoint: urlEndpoint, health_check: health },
      },
      requestId,
    };
    const first = await call("POST", "/v1/instances", body);
    if (first.status !== 200) {
      if (first.status) ledger.inconsistencies.push(`create ${name}: ${first.status}`);
      return;
    }
    ledger.created.set(first.json.id ?? "", name);
    acknowledged();
    // The same request again (as after a lost answer): the same instance, not a second one.
    const again = await call("POST", "/v1/instances", body);
    if (again.status !== 200 || again.json.id !== first.json.id) {
      ledger.inconsistencies.push(`create ${name} retried: ${again.status} ${again.json.id}`);
    }
  };
  const updateOne = async (id: string) => {
    const description = `update ${randomUUID()}`;
    const body = {
      instance: { id, description },
      updateMask: "description",
      requestId: randomUUID(),
    };
    const answer = await call("PATCH", `/v1/instances/${id}`, body);
    if (answer.status !== 200) {
      if (answer.status) ledger.inconsistencies.push(`update ${id}: ${answer.status}`);
      return;
    }
    const before = ledger.updates.get(id)?.count ?? 0;
    ledger.updates.set(id, { count: before + 1, description });
    acknowledged();
    const again = await call("PATCH", `/v1/instances/${id}`, body);
    if (again.status !== 200 || again.json.revision !== answer.json.revision) {
      ledger.inconsistencies.push(`update ${id} retried: ${again.status} ${again.json.revision}`);
    }
  };
  const deleteOne = async (id: string) => {
    const requestId = randomUUID();
    const answer = await call("DELETE", `/v1/instances/${id}?request_id=${requestId}`);
    if (answer.status !== 200) {
      if (answer.status) ledger.inconsistencies.push(`delete ${id}: ${answer.status}`);
      return;
    }
    ledger.deleted.add(id);
    acknowledged();
  };
  const mistake = async () => {
    // The client's own mistake: a name that is not one. 400, outage or not.
    const answer = await call("POST", "/v1/instances", {
      instance: {
        name: "Not a name!",
        jsonSpec: { type: "url", endpoint: "http://127.0.0.1:1/mcp" },
      },
      requestId: randomUUID(),
    });
    if (answer.status === 400) ledger.mistakes++;
    else if (answer.status) ledger.inconsistencies.push(`mistake answered ${answer.status}`);
  };

  const mcpCall = async (instance: string, clients: Map<string, Client>) => {
    const at = Date.now();
    const deadline = at + OP_DEADLINE_MS;
    for (let attempts = 1; ; attempts++) {
      try {
        let client = clients.get(instance);
        if (!client) {
          client = new Client({ name: "fault-load", version: "1.0.0" });
          const transport = new StreamableHTTPClientTransport(
            new URL(`${gatewayUrl}/mcp/${instance}`),
            { requestInit: { headers: { authorization: `Bearer ${apiKey}` } } },
          );
          await client.connect(transport, { timeout: 10_000 });
          clients.set(instance, client);
        }
        const message = randomUUID();
        const result = await client.callTool({ name: "echo", arguments: { message } }, undefined, {
          timeout: 10_000,
        });
        count(200);
        const text = (result.content as Array<{ text?: string }>)[0]?.text;
        if (text !== `Echo: ${message}`) ledger.inconsistencies.push(`echo answered ${text}`);
        else ledger.mcpCalls++;
        ledger.mcpAttempts.push({ at, attempts });
        return;
      } catch (error) {
        const status = error instanceof StreamableHTTPError ? error.code : undefined;
        if (typeof status === "number" && status >= 100) count(status);
        else ledger.unreachable++;
        if (typeof status === "number" && status >= 500 && status !== 503) {
          if (ledger.odd.length < MAX_ODD) {
            ledger.odd.push(`MCP ${instance} → ${status} ${String(error).slice(0, 300)}`);
          }
        }
        // Whatever broke, the next attempt opens a fresh session (a lost one answers 404).
        await clients
          .get(instance)
          ?.close()
          .catch(() => undefined);
        clients.delete(instance);
        if (Date.now() > deadline) {
          ledger.abandoned.push(`MCP call to ${instance}`);
          return;
        }
        await sleep(RETRY_MS);
      }
    }
  };

  const list: Load["list"] = async () => {
    const all: Array<Record<string, string>> = [];
    let token = "";
    for (let page = 0; page < 20; page++) {
      const answer = await call(
        "GET",
        `/v1/instances?pageSize=100${token ? `&pageToken=${token}` : ""}`,
      );
      all.push(...(answer.json.instances ?? []));
      token = answer.json.nextPageToken ?? "";
      if (!token) break;
    }
    return all;
  };

  const converged: Load["converged"] = async (limitMs, note) => {
    const began = Date.now();
    let last = "";
    while (Date.now() - began < limitMs) {
      const all = await list();
      const off = all.filter(
        (i) =>
          !(
            (i.desiredState === "DESIRED_STATE_RUNNING" &&
              i.status === "INSTANCE_STATUS_RUNNING") ||
            (i.desiredState === "DESIRED_STATE_STOPPED" && i.status === "INSTANCE_STATUS_STOPPED")
          ),
      );
      const ghosts = all.filter((i) => ledger.deleted.has(i.id!));
      if (off.length === 0 && ghosts.length === 0) return Date.now() - began;
      const now = [...off, ...ghosts].map((i) => `${i.name} ${i.status}`).join(", ");
      // What still lags, each time it changes: where the convergence time goes.
      if (now !== last) note?.(`waiting for ${off.length + ghosts.length}: ${now.slice(0, 400)}`);
      last = now;
      await sleep(200);
    }
    throw new Error(`not converged after ${limitMs} ms: ${last}`);
  };

  return {
    call,
    list,
    converged,
    run({ urlEndpoint, mcpInstances, maxOps, health }) {
      let stopping = false;
      const control = (async () => {
        for (let op = 0; op < maxOps && !stopping; op++) {
          const live = [...ledger.created.keys()].filter((id) => !ledger.deleted.has(id));
          const pick = live[Math.floor(Math.random() * live.length)];
          const kind = op % 6;
          if (kind === 5) await mistake();
          else if (kind === 4 && pick && live.length > 3) await deleteOne(pick);
          else if ((kind === 1 || kind === 3) && pick) await updateOne(pick);
          else await createOne(urlEndpoint, health);
          await sleep(100);
        }
      })();
      const clients = new Map<string, Client>();
      const data = (async () => {
        for (let op = 0; op < maxOps * 2 && !stopping; op++) {
          await mcpCall(mcpInstances[op % mcpInstances.length]!, clients);
          await sleep(50);
        }
      })();
      return {
        lastAcknowledgedAt: () => lastAcknowledgedAt,
        async stop() {
          stopping = true;
          await Promise.all([control, data]);
          for (const client of clients.values()) await client.close().catch(() => undefined);
        },
      };
    },
  };
}
