import {
  type AuditRecord,
  AuditRecordKind,
  type ListAuditRecordsRequestSchema,
  ListAuditRecordsResponseSchema,
  paginate,
} from "@berth/sdk";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { UsageError } from "../args.js";
import { formatTime } from "../format.js";
import { formatTable } from "../table.js";
import type { CommandGroup } from "../types.js";
import { outcomeWord, parseKind, parseOutcome, parseTimeOption } from "./audit-filters.js";

/** What a record was about, in a word or two: the call's method and tool, or the change. */
function whatOf(record: AuditRecord): string {
  if (record.mcpCall) {
    const { method, tool } = record.mcpCall;
    return tool ? `${method} ${tool}` : method;
  }
  const change = record.change;
  return change ? `${change.action} ${change.resourceType} ${change.resourceName}` : "";
}

/** `berth audit …`: who called what through the gateway, and who changed what (admin). */
export const auditCommands: CommandGroup = {
  list: {
    usage:
      "[--since AGE|TIME] [--until TIME] [--instance NAME|ID] [--key KEY_ID] [--tool NAME] [--outcome ok|error|tool-error|refused|failed] [--kind call|change] [--limit N]",
    summary: "List audit records, newest first: MCP calls (never argument values) and changes",
    options: {
      since: { type: "string" },
      until: { type: "string" },
      instance: { type: "string" },
      key: { type: "string" },
      tool: { type: "string" },
      outcome: { type: "string" },
      kind: { type: "string" },
      "virtual-server": { type: "string" },
      limit: { type: "string" },
    },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const text = (name: string) => (values[name] === undefined ? "" : String(values[name]));
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new UsageError("--limit must be a whole number of at least 1");
      }
      const request: MessageInitShape<typeof ListAuditRecordsRequestSchema> = {
        pageSize: Math.min(limit, 500),
        instance: text("instance"),
        actorKeyId: text("key"),
        tool: text("tool"),
        virtualServer: text("virtual-server"),
        ...(values.since
          ? { startTime: timestampFromDate(parseTimeOption("since", text("since"))) }
          : {}),
        ...(values.until
          ? { endTime: timestampFromDate(parseTimeOption("until", text("until"))) }
          : {}),
        ...(values.outcome ? { outcome: parseOutcome(text("outcome")) } : {}),
        ...(values.kind ? { kind: parseKind(text("kind")) } : {}),
      };
      const records: AuditRecord[] = [];
      const list = ctx.berth.audit.listAuditRecords;
      for await (const record of paginate(list, request, (r) => r.auditRecords)) {
        records.push(record);
        if (records.length >= limit) break;
      }
      if (ctx.output === "json") {
        const response = create(ListAuditRecordsResponseSchema, { auditRecords: records });
        return ctx.json(ListAuditRecordsResponseSchema, response);
      }
      const columns = [
        { header: "TIME" },
        { header: "KEY" },
        { header: "KIND" },
        { header: "INSTANCE" },
        { header: "WHAT", max: 60 },
        { header: "OUTCOME" },
        { header: "MS" },
      ];
      const rows = records.map((r) => [
        formatTime(r.time),
        r.actorKeyName ? `${r.actorKeyName} (${r.actorKeyId})` : r.actorKeyId,
        r.kind === AuditRecordKind.MCP_CALL ? "call" : "change",
        r.mcpCall?.virtualServer ||
          r.mcpCall?.instanceName ||
          (r.change?.resourceType === "McpServerInstance" ? r.change.resourceName : ""),
        whatOf(r),
        r.mcpCall
          ? `${outcomeWord(r.mcpCall.outcome)}${r.mcpCall.errorCode ? ` ${r.mcpCall.errorCode}` : ""}`
          : "",
        r.mcpCall ? String(r.mcpCall.durationMs) : "",
      ]);
      ctx.io.out(formatTable(columns, rows));
    },
  },
};
