import { AuditRecordKind, McpCallOutcome } from "@berth/sdk";
import { UsageError } from "../args.js";

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time given as an age (`90s`, `15m`, `2h`, `7d`: that long before now) or as an
 * RFC 3339 time (`2026-11-27T16:00:00Z`).
 */
export function parseTimeOption(option: string, raw: string, now = Date.now()): Date {
  const age = /^(\d+)([smhd])$/.exec(raw.trim());
  if (age) return new Date(now - Number(age[1]) * UNITS[age[2]!]!);
  const time = /^\d{4}-\d{2}-\d{2}T/.test(raw) ? new Date(raw) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new UsageError(
      `--${option} must be an age such as 15m, 2h or 7d, or a time such as 2026-11-27T16:00:00Z`,
    );
  }
  return time;
}

const OUTCOMES: Record<string, McpCallOutcome> = {
  ok: McpCallOutcome.OK,
  error: McpCallOutcome.ERROR,
  "tool-error": McpCallOutcome.TOOL_ERROR,
  refused: McpCallOutcome.REFUSED,
  failed: McpCallOutcome.FAILED,
};

/** --outcome words as the enum. */
export function parseOutcome(raw: string): McpCallOutcome {
  const outcome = OUTCOMES[raw.trim().toLowerCase()];
  if (outcome === undefined) {
    throw new UsageError(`--outcome must be one of ${Object.keys(OUTCOMES).join(", ")}`);
  }
  return outcome;
}

/** --kind words (call, change) as the enum. */
export function parseKind(raw: string): AuditRecordKind {
  const word = raw.trim().toLowerCase();
  if (word === "call" || word === "mcp-call") return AuditRecordKind.MCP_CALL;
  if (word === "change") return AuditRecordKind.CHANGE;
  throw new UsageError("--kind must be call or change");
}

/** The outcome as shown in the table (the --outcome word). */
export function outcomeWord(outcome: McpCallOutcome): string {
  return Object.entries(OUTCOMES).find(([, value]) => value === outcome)?.[0] ?? "";
}
