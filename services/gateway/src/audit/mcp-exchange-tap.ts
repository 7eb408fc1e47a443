import type { HttpRequest, HttpResponse } from "../http/types.js";
import type { McpCallFacts } from "./audit-record.js";
import { answersOf, type McpRequestFacts, readMcpRequest } from "./mcp-exchange.js";

/** Where the facts of each MCP call go (the audit recorder and the metrics). */
export type McpCallSink = (call: McpCallFacts) => void;

/** What the MCP proxy tells the tap about one exchange as it learns it. */
export interface McpExchangeTap {
  /** The caller (after authentication) and, once identified, the instance. */
  attribute(keyId: string, instance?: { id: string; name: string }): void;
  /** The request is about to be forwarded: its body and answer are read alongside. */
  forwarding(): void;
  /** The gateway answers itself with this status (refused, or the instance failed). */
  failed(status: number): void;
}

const NO_TAP: McpExchangeTap = { attribute() {}, forwarding() {}, failed() {} };
// The answer is kept up to this size for its outcome; beyond, only its tail (the last events).
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Watches one POST to an MCP endpoint and reports each JSON-RPC request in it to `sink` when the
 * answer has ended: who, which instance, method, tool, arguments digest, duration, outcome. On the
 * request's way only chunk references are kept; parsing happens after the answer has been sent.
 * Requests of callers that never authenticated are not reported.
 */
export function tapMcpExchange(
  req: HttpRequest,
  res: HttpResponse,
  sink: McpCallSink,
  maxBodyBytes: number,
): McpExchangeTap {
  if (req.method !== "POST") return NO_TAP;
  const started = performance.now();
  const time = new Date();
  const sessionHeader = req.headers["mcp-session-id"];
  let keyId: string | undefined;
  let instance: { id: string; name: string } | undefined;
  let byGateway = false;
  let reading = false;
  const body: Buffer[] = [];
  let bodyBytes = 0;
  const answer: Buffer[] = [];
  let answerBytes = 0;

  const readBody = () => {
    if (reading) return;
    reading = true;
    req.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes <= maxBodyBytes) body.push(chunk);
    });
  };
  const keep = (chunk: unknown) => {
    if (!chunk || typeof chunk === "function") return;
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    answer.push(buffer);
    answerBytes += buffer.length;
    while (answerBytes > MAX_ANSWER_BYTES && answer.length > 1) {
      answerBytes -= answer.shift()!.length;
    }
  };

  const report = () => {
    if (keyId === undefined) return;
    const durationMs = performance.now() - started;
    const requests: McpRequestFacts[] | undefined =
      bodyBytes > 0 && bodyBytes <= maxBodyBytes ? readMcpRequest(Buffer.concat(body)) : undefined;
    // A body that was not read or not JSON still made a call: reported without a method.
    const calls = requests ?? [
      { id: undefined, method: "", tool: undefined, argumentsDigest: undefined },
    ];
    const contentType = res.getHeader("content-type");
    const answers = answersOf(calls, {
      status: res.statusCode,
      byGateway,
      complete: res.writableFinished,
      contentType: typeof contentType === "string" ? contentType : undefined,
      body: answer.length > 0 ? Buffer.concat(answer) : undefined,
    });
    const answeredSession = res.getHeader("mcp-session-id");
    const sessionId =
      typeof sessionHeader === "string"
        ? sessionHeader
        : typeof answeredSession === "string"
          ? answeredSession
          : undefined;
    calls.forEach((call, i) => {
      sink({
        keyId: keyId!,
        instanceId: instance?.id,
        instanceName: instance?.name,
        method: call.method,
        tool: call.tool,
        argumentsDigest: call.argumentsDigest,
        durationMs,
        outcome: answers[i]!.outcome,
        errorCode: answers[i]!.errorCode,
        sessionId,
        time,
      });
    });
  };

  res.once("close", () => {
    // Off the answer's path: the client already has it. A refused request's body may still be
    // arriving (it is read and discarded): reported once it has.
    if (req.readableEnded || req.destroyed) return void setImmediate(report);
    req.once("end", report);
    req.once("close", () => req.readableEnded || report());
  });

  return {
    attribute(key, target) {
      keyId = key;
      instance = target ?? instance;
    },
    forwarding() {
      readBody();
      const out = res as unknown as {
        write: (chunk: unknown, ...rest: unknown[]) => boolean;
        end: (chunk?: unknown, ...rest: unknown[]) => unknown;
      };
      const write = out.write;
      const end = out.end;
      out.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
        keep(chunk);
        return write.call(this, chunk, ...rest);
      };
      out.end = function (this: unknown, chunk?: unknown, ...rest: unknown[]) {
        keep(chunk);
        return end.call(this, chunk, ...rest);
      };
    },
    failed(status) {
      byGateway = true;
      // A body over the size limit is not read (its connection closes).
      if (status !== 413) readBody();
    },
  };
}
