import {
  Counter,
  createServiceMetrics,
  Gauge,
  Histogram,
  type Logger,
  type ServiceMetrics,
} from "@berth/platform";
import type { NatsConnection } from "@nats-io/nats-core";
import type { McpCallFacts } from "../audit/audit-record.js";
import { clientAddressOf } from "../auth/client-address.js";
import { fromNodeHeaders } from "../auth/credential.js";
import type { Gatekeeper } from "../auth/types.js";
import { writeRestError } from "../http/rest-errors.js";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { createToolLabels, methodLabel } from "./mcp-labels.js";

/** The gateway's metrics and the /metrics route that serves them. */
export interface GatewayMetrics {
  metrics: ServiceMetrics;
  /** Counts one MCP call (any MCP path) and observes its duration. */
  observeMcpCall(call: McpCallFacts): void;
  /** Counts audit records dropped because the buffer was full. */
  auditDropped(count: number): void;
  /** Observes how long MCP requests waited for an idle instance to wake, by outcome. */
  wakeWaited(outcome: "ok" | "timeout" | "failed", seconds: number): void;
  /** GET /metrics on the gateway's port: needs a key with the metrics scope (admin has it). */
  route(req: HttpRequest, res: HttpResponse): void;
}

/** Options of createGatewayMetrics. */
export interface GatewayMetricsOptions {
  nc: NatsConnection;
  gatekeeper: Gatekeeper;
  logger: Logger;
  /** Live MCP sessions per instance id, read when scraped. */
  sessions(): ReadonlyMap<string, number>;
  /** Audit records waiting to be written, read when scraped. */
  auditBuffered(): number;
}

/**
 * `berth_mcp_calls_total{instance,virtual_server,method,tool,outcome}`,
 * `berth_mcp_call_duration_seconds{instance,virtual_server,method,outcome}`,
 * `berth_mcp_sessions_open{instance_id}`, `berth_mcp_wake_wait_seconds{outcome}` (requests held
 * while an idle instance woke: ok, timeout = answered 503, failed), the audit trail's buffer and drops, the audit consumer's
 * lag and the process defaults.
 */
export function createGatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const metrics = createServiceMetrics({ service: "gateway", nc: options.nc });
  const registers = [metrics.registry];
  const calls = new Counter({
    name: "berth_mcp_calls_total",
    help: "MCP calls (JSON-RPC requests and notifications) through the gateway, by outcome.",
    labelNames: ["instance", "virtual_server", "method", "tool", "outcome"],
    registers,
  });
  const durations = new Histogram({
    name: "berth_mcp_call_duration_seconds",
    help: "From an MCP call's arrival at the gateway to the end of its answer.",
    labelNames: ["instance", "virtual_server", "method", "outcome"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  new Gauge({
    name: "berth_mcp_sessions_open",
    help: "Live MCP sessions through the gateway, per instance.",
    labelNames: ["instance_id"],
    registers,
    collect() {
      this.reset();
      for (const [instanceId, open] of options.sessions())
        this.set({ instance_id: instanceId }, open);
    },
  });
  const dropped = new Counter({
    name: "berth_audit_records_dropped_total",
    help: "MCP call audit records dropped because the buffer was full (the database was away).",
    registers,
  });
  new Gauge({
    name: "berth_audit_records_buffered",
    help: "MCP call audit records waiting to be written.",
    registers,
    collect() {
      this.set(options.auditBuffered());
    },
  });
  const toolLabel = createToolLabels();
  const wakeWaits = new Histogram({
    name: "berth_mcp_wake_wait_seconds",
    help: "How long MCP requests waited for an idle instance to wake, by outcome.",
    labelNames: ["outcome"],
    buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120],
    registers,
  });

  return {
    metrics,
    observeMcpCall(call) {
      const base = {
        instance: call.instanceName ?? "",
        virtual_server: call.virtualServer ?? "",
        method: methodLabel(call.method),
        outcome: call.outcome,
      };
      calls.inc({ ...base, tool: call.method === "tools/call" ? toolLabel(call.tool) : "" });
      durations.observe(base, call.durationMs / 1000);
    },
    auditDropped: (count) => dropped.inc(count),
    wakeWaited: (outcome, seconds) => wakeWaits.observe({ outcome }, seconds),
    route(req, res) {
      const answer = async () => {
        await options.gatekeeper(fromNodeHeaders(req.headers), "metrics", clientAddressOf(req));
        const { contentType, body } = await metrics.render();
        res.statusCode = 200;
        res.setHeader("content-type", contentType);
        res.end(body);
      };
      answer().catch((error) => writeRestError(res, error, options.logger));
    },
  };
}
