import { createHash } from "node:crypto";
import { canonicalJson } from "@berth/platform";
import type { McpCallOutcome } from "./audit-record.js";

/** What the audit trail keeps of one JSON-RPC message a client sent: never a value. */
export interface McpRequestFacts {
  /** The JSON-RPC id; undefined for a notification. */
  id: string | number | undefined;
  method: string;
  /** params.name of tools/call. */
  tool: string | undefined;
  /** argumentsDigest() of tools/call and prompts/get arguments, or of any other method's params. */
  argumentsDigest: string | undefined;
}

/** How one message was answered. */
export interface McpAnswerFacts {
  outcome: McpCallOutcome;
  errorCode: string | undefined;
}

/**
 * SHA-256 (hex) of the canonical JSON (object keys sorted) of a call's arguments: equal arguments
 * give equal digests whatever their key order, and the values cannot be read back from it.
 */
export function argumentsDigest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

const object = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * The requests and notifications of a POST body (one message or a batch); responses (a client
 * answering a sampling request) are skipped. Undefined when the body is not JSON.
 */
export function readMcpRequest(body: Buffer): McpRequestFacts[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  return messages.flatMap((message): McpRequestFacts[] => {
    const m = object(message);
    if (!m || typeof m.method !== "string") return [];
    const params = object(m.params);
    const id = typeof m.id === "string" || typeof m.id === "number" ? m.id : undefined;
    const named = m.method === "tools/call" || m.method === "prompts/get";
    const digested = named ? params?.arguments : params;
    return [
      {
        id,
        method: m.method,
        tool:
          m.method === "tools/call" && typeof params?.name === "string" ? params.name : undefined,
        argumentsDigest: digested === undefined ? undefined : argumentsDigest(digested),
      },
    ];
  });
}

/** The JSON-RPC messages of an answer: a JSON body, or the data of each event of an event stream. */
export function answerMessages(contentType: string | undefined, body: Buffer): unknown[] {
  const text = body.toString("utf8");
  const parse = (json: string): unknown[] => {
    try {
      const value: unknown = JSON.parse(json);
      return Array.isArray(value) ? value : [value];
    } catch {
      return [];
    }
  };
  if (!contentType?.includes("text/event-stream")) return parse(text);
  return text.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
    return data.length > 0 ? parse(data.join("\n")) : [];
  });
}

/** What the exchange of one POST looked like from the gateway. */
export interface McpExchangeEnd {
  /** The HTTP status the client got. */
  status: number;
  /** The gateway answered itself (refused, or the instance failed); no upstream answer. */
  byGateway: boolean;
  /** The whole answer reached the client. */
  complete: boolean;
  contentType: string | undefined;
  /** The answer's body as far as it was kept (undefined: not kept, too large). */
  body: Buffer | undefined;
}

/** How each request of a POST was answered, in the order of `requests`. */
export function answersOf(
  requests: readonly McpRequestFacts[],
  end: McpExchangeEnd,
): McpAnswerFacts[] {
  const http = { errorCode: `http_${end.status}` };
  if (end.byGateway) {
    const outcome: McpCallOutcome = end.status >= 500 ? "failed" : "refused";
    return requests.map(() => ({ outcome, ...http }));
  }
  const byId = new Map<string | number, Record<string, unknown>>();
  if (end.body) {
    for (const message of answerMessages(end.contentType, end.body)) {
      const m = object(message);
      const id = m?.id;
      if (
        m &&
        (typeof id === "string" || typeof id === "number") &&
        ("result" in m || "error" in m)
      )
        byId.set(id, m);
    }
  }
  return requests.map((request): McpAnswerFacts => {
    const answer = request.id === undefined ? undefined : byId.get(request.id);
    const error = object(answer?.error);
    if (error) {
      const code = typeof error.code === "number" ? String(error.code) : "unknown";
      return { outcome: "error", errorCode: code };
    }
    if (answer && object(answer.result)?.isError === true) {
      return { outcome: "tool_error", errorCode: undefined };
    }
    if (end.status >= 500) return { outcome: "failed", ...http };
    if (end.status >= 400) return { outcome: "error", ...http };
    // A request whose answer never arrived: the client or the instance broke off.
    if (request.id !== undefined && !answer && !end.complete) {
      return { outcome: "failed", errorCode: "incomplete" };
    }
    return { outcome: "ok", errorCode: undefined };
  });
}
