import {
  type ApiKey,
  type AuditRecord,
  AuditRecordKind,
  type ListAuditRecordsRequestSchema,
  McpCallOutcome,
} from "@berth/sdk";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Badge,
  Box,
  Button,
  Card,
  Code,
  Flex,
  Heading,
  Select,
  Table,
  Text,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { bucketCalls, type InstanceSeries } from "../../src/forms/audit-chart";
import { asBerthError, useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { FormField, fieldAria } from "../components/form-field";

type Request = MessageInitShape<typeof ListAuditRecordsRequestSchema>;

const ANY = "any";
const PAGE_SIZE = 25;
const KINDS = [
  { value: String(AuditRecordKind.MCP_CALL), label: "MCP call" },
  { value: String(AuditRecordKind.CHANGE), label: "Change" },
];
const OUTCOMES = [
  McpCallOutcome.OK,
  McpCallOutcome.ERROR,
  McpCallOutcome.TOOL_ERROR,
  McpCallOutcome.REFUSED,
  McpCallOutcome.FAILED,
].map((o) => ({ value: String(o), label: McpCallOutcome[o] ?? String(o) }));

interface Filters {
  kind: string;
  key: string;
  instance: string;
  tool: string;
  outcome: string;
  from: string;
  to: string;
}
const NO_FILTERS: Filters = {
  kind: ANY,
  key: ANY,
  instance: "",
  tool: "",
  outcome: ANY,
  from: "",
  to: "",
};

/** The filters as a request (datetime-local values are the browser's local time). */
function toRequest(f: Filters): Request {
  const at = (local: string) => (local ? timestampFromDate(new Date(local)) : undefined);
  const start = at(f.from);
  const end = at(f.to);
  return {
    ...(f.kind !== ANY ? { kind: Number(f.kind) as AuditRecordKind } : {}),
    ...(f.key !== ANY ? { actorKeyId: f.key } : {}),
    ...(f.instance.trim() ? { instance: f.instance.trim() } : {}),
    ...(f.tool.trim() ? { tool: f.tool.trim() } : {}),
    ...(f.outcome !== ANY ? { outcome: Number(f.outcome) as McpCallOutcome } : {}),
    ...(start ? { startTime: start } : {}),
    ...(end ? { endTime: end } : {}),
  };
}

/** The audit trail: who called what and who changed what, filtered and paged; calls per minute. */
export function AuditPage() {
  const { client } = useSession();
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  // The tokens of the pages before the current one, to go back; "" is the first page.
  const [tokens, setTokens] = useState<string[]>([""]);
  const [records, setRecords] = useState<AuditRecord[]>();
  const [next, setNext] = useState("");
  const [error, setError] = useState<unknown>();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const pageToken = tokens[tokens.length - 1] ?? "";

  useEffect(() => {
    client.apiKeys
      .listApiKeys({ pageSize: 100 })
      .then((answer) => setKeys(answer.apiKeys))
      .catch(() => setKeys([]));
  }, [client]);

  useEffect(() => {
    let cancelled = false;
    setBusy(true);
    client.audit
      .listAuditRecords({ ...toRequest(applied), pageSize: PAGE_SIZE, pageToken })
      .then((answer) => {
        if (cancelled) return;
        setRecords(answer.auditRecords);
        setNext(answer.nextPageToken);
        setError(undefined);
      })
      .catch((err: unknown) => {
        if (cancelled) return;
        setRecords(undefined);
        setError(err);
        const errors: Record<string, string> = {};
        for (const v of asBerthError(err).fieldViolations) errors[v.field] = v.description;
        setFieldErrors(errors);
      })
      .finally(() => {
        if (!cancelled) setBusy(false);
      });
    return () => {
      cancelled = true;
    };
  }, [client, applied, pageToken]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFieldErrors({});
    setApplied({ ...draft });
    setTokens([""]);
  };
  const set = (field: keyof Filters) => (value: string) =>
    setDraft((d) => ({ ...d, [field]: value }));
  const time = (id: string, label: string, field: "from" | "to", apiField: string) => (
    <FormField id={id} label={label} error={fieldErrors[apiField]}>
      <TextField.Root
        {...fieldAria(id, undefined, fieldErrors[apiField])}
        type="datetime-local"
        value={draft[field]}
        onChange={(e) => set(field)(e.target.value)}
      />
    </FormField>
  );
  const choice = (
    id: string,
    label: string,
    field: "kind" | "key" | "outcome",
    options: { value: string; label: string }[],
  ) => (
    <FormField id={id} label={label}>
      <Select.Root value={draft[field]} onValueChange={set(field)}>
        <Select.Trigger id={id} />
        <Select.Content>
          <Select.Item value={ANY}>Any</Select.Item>
          {options.map((o) => (
            <Select.Item key={o.value} value={o.value}>
              {o.label}
            </Select.Item>
          ))}
        </Select.Content>
      </Select.Root>
    </FormField>
  );

  return (
    <>
      <Heading as="h2" size="6" mb="3">
        Audit trail
      </Heading>
      <CallsChart />
      <Card mb="4" asChild>
        <section aria-labelledby="filter-heading">
          <Heading as="h3" size="4" id="filter-heading" mb="2">
            Filter
          </Heading>
          <form onSubmit={apply} noValidate aria-label="Filter audit records">
            <Flex gap="3" wrap="wrap">
              <Box minWidth="9rem">{choice("audit-kind", "Kind", "kind", KINDS)}</Box>
              <Box minWidth="12rem">
                {choice(
                  "audit-key",
                  "API key",
                  "key",
                  keys.map((k) => ({ value: k.id, label: k.displayName })),
                )}
              </Box>
              <Box minWidth="10rem">
                <FormField id="audit-instance" label="Instance" error={fieldErrors.instance}>
                  <TextField.Root
                    {...fieldAria("audit-instance", undefined, fieldErrors.instance)}
                    value={draft.instance}
                    onChange={(e) => set("instance")(e.target.value)}
                  />
                </FormField>
              </Box>
              <Box minWidth="10rem">
                <FormField id="audit-tool" label="Tool" error={fieldErrors.tool}>
                  <TextField.Root
                    {...fieldAria("audit-tool", undefined, fieldErrors.tool)}
                    value={draft.tool}
                    onChange={(e) => set("tool")(e.target.value)}
                  />
                </FormField>
              </Box>
              <Box minWidth="9rem">{choice("audit-outcome", "Outcome", "outcome", OUTCOMES)}</Box>
              <Box minWidth="12rem">{time("audit-from", "From", "from", "start_time")}</Box>
              <Box minWidth="12rem">{time("audit-to", "To", "to", "end_time")}</Box>
            </Flex>
            <Flex gap="2">
              <Button type="submit">Apply filters</Button>
              <Button
                type="button"
                variant="soft"
                color="gray"
                onClick={() => {
                  setDraft(NO_FILTERS);
                  setApplied(NO_FILTERS);
                  setTokens([""]);
                }}
              >
                Clear
              </Button>
            </Flex>
          </form>
        </section>
      </Card>
      <ErrorCallout error={error} />
      {records && (
        <RecordsTable
          records={records}
          page={tokens.length}
          busy={busy}
          onPrevious={tokens.length > 1 ? () => setTokens((t) => t.slice(0, -1)) : undefined}
          onNext={next ? () => setTokens((t) => [...t, next]) : undefined}
        />
      )}
    </>
  );
}

function RecordsTable(props: {
  records: AuditRecord[];
  page: number;
  busy: boolean;
  onPrevious: (() => void) | undefined;
  onNext: (() => void) | undefined;
}) {
  return (
    <section aria-label="Audit records" aria-busy={props.busy}>
      {props.records.length === 0 && <Text as="p">No records match.</Text>}
      {props.records.length > 0 && (
        <div className="table-scroll">
          <Table.Root variant="surface" size="1">
            <caption className="visually-hidden">Audit records, page {props.page}</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Time</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Key</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>What</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Of</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Outcome</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Duration</Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {props.records.map((r) => (
                <RecordRow key={r.id} record={r} />
              ))}
            </Table.Body>
          </Table.Root>
        </div>
      )}
      <Flex gap="2" mt="3" align="center">
        <Button variant="soft" disabled={!props.onPrevious} onClick={props.onPrevious}>
          Previous page
        </Button>
        <Text size="2">Page {props.page}</Text>
        <Button variant="soft" disabled={!props.onNext} onClick={props.onNext}>
          Next page
        </Button>
      </Flex>
    </section>
  );
}

function RecordRow({ record }: { record: AuditRecord }) {
  const when = record.time ? timestampDate(record.time).toLocaleString() : "—";
  const key = record.actorKeyName || record.actorKeyId || "—";
  const call = record.mcpCall;
  const change = record.change;
  if (record.kind === AuditRecordKind.MCP_CALL && call) {
    const ok = call.outcome === McpCallOutcome.OK;
    return (
      <Table.Row data-tool={call.tool || undefined} data-kind="mcp-call">
        <Table.Cell>{when}</Table.Cell>
        <Table.Cell>{key}</Table.Cell>
        <Table.RowHeaderCell>
          <Code>{call.method}</Code>
          {call.tool && <> {call.tool}</>}
        </Table.RowHeaderCell>
        <Table.Cell>
          {call.instanceName || call.instanceId}
          {call.virtualServer && <> (via {call.virtualServer})</>}
        </Table.Cell>
        <Table.Cell>
          <Badge highContrast color={ok ? "green" : "red"}>
            {McpCallOutcome[call.outcome]}
          </Badge>
          {call.errorCode && <> {call.errorCode}</>}
        </Table.Cell>
        <Table.Cell>{String(call.durationMs)} ms</Table.Cell>
      </Table.Row>
    );
  }
  return (
    <Table.Row data-kind="change">
      <Table.Cell>{when}</Table.Cell>
      <Table.Cell>{key}</Table.Cell>
      <Table.RowHeaderCell>
        {change?.action ?? "change"} {change?.resourceType}
        {change && change.changedFields.length > 0 && (
          <Text size="1" color="gray">
            {" "}
            ({change.changedFields.join(", ")})
          </Text>
        )}
      </Table.RowHeaderCell>
      <Table.Cell>{change?.resourceName || change?.resourceId}</Table.Cell>
      <Table.Cell>—</Table.Cell>
      <Table.Cell>—</Table.Cell>
    </Table.Row>
  );
}

/** How many records the chart reads at most (pages of 500): enough for a busy hour's sketch. */
const CHART_PAGES = 10;

/** Calls and errors per minute over the last hour, for each instance, from the audit records. */
function CallsChart() {
  const { client } = useSession();
  const [series, setSeries] = useState<InstanceSeries[]>();
  const [capped, setCapped] = useState(false);
  const [error, setError] = useState<unknown>();
  const load = useCallback(async () => {
    try {
      const now = new Date();
      const request: Request = {
        kind: AuditRecordKind.MCP_CALL,
        startTime: timestampFromDate(new Date(now.getTime() - 60 * 60_000)),
        pageSize: 500,
      };
      // Some records carry only the instance's id (a virtual server's member): named where known.
      const { instances } = await client.instances.listInstances({ pageSize: 100 });
      const names = new Map(instances.map((i) => [i.id, i.name]));
      const samples = [];
      let token = "";
      let pages = 0;
      do {
        const answer = await client.audit.listAuditRecords({ ...request, pageToken: token });
        for (const r of answer.auditRecords)
          if (r.mcpCall && r.time)
            samples.push({
              instance:
                r.mcpCall.instanceName ||
                names.get(r.mcpCall.instanceId) ||
                r.mcpCall.instanceId ||
                (r.mcpCall.virtualServer
                  ? `virtual server ${r.mcpCall.virtualServer}`
                  : "(no instance)"),
              time: timestampDate(r.time),
              failed: r.mcpCall.outcome !== McpCallOutcome.OK,
            });
        token = answer.nextPageToken;
        pages += 1;
      } while (token && pages < CHART_PAGES);
      setCapped(token !== "");
      setSeries(bucketCalls(samples, now));
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <Card mb="4" asChild>
      <section aria-labelledby="chart-heading">
        <Flex align="center" justify="between" gap="3" wrap="wrap" mb="2">
          <Heading as="h3" size="4" id="chart-heading">
            Calls and errors per minute, last hour
          </Heading>
          <Button size="1" variant="soft" onClick={() => void load()}>
            Refresh chart
          </Button>
        </Flex>
        <ErrorCallout error={error} />
        {series && series.length === 0 && <Text as="p">No MCP calls in the last hour.</Text>}
        {capped && (
          <Text as="p" size="1" color="gray">
            Drawn from the newest {CHART_PAGES * 500} calls only.
          </Text>
        )}
        {series && (
          <Flex direction="column" gap="3">
            {series.map((s) => (
              <InstanceChart key={s.instance} series={s} />
            ))}
          </Flex>
        )}
      </section>
    </Card>
  );
}

const BAR = 6;
const HEIGHT = 48;

/** One instance's minutes as bars (calls, with errors in red over them), and the same as a table. */
function InstanceChart({ series }: { series: InstanceSeries }) {
  const max = Math.max(1, ...series.buckets.map((b) => b.calls));
  const scale = (n: number) => (n / max) * HEIGHT;
  const width = series.buckets.length * BAR;
  const minute = (d: Date) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const summary = `${series.instance}: ${series.calls} calls, ${series.errors} errors in the last hour; busiest minute ${max} calls`;
  return (
    <Box data-chart-instance={series.instance}>
      <Text as="p" size="2" weight="bold">
        {series.instance}{" "}
        <Text weight="regular" color="gray">
          {series.calls} calls, {series.errors} errors
        </Text>
      </Text>
      <svg
        role="img"
        aria-label={summary}
        viewBox={`0 0 ${width} ${HEIGHT}`}
        preserveAspectRatio="none"
        className="chart"
      >
        <line x1="0" y1={HEIGHT - 0.5} x2={width} y2={HEIGHT - 0.5} className="chart-axis" />
        {series.buckets.map((b, i) =>
          b.calls === 0 ? null : (
            <g key={b.start.getTime()}>
              <rect
                x={i * BAR + 1}
                y={HEIGHT - scale(b.calls)}
                width={BAR - 2}
                height={scale(b.calls)}
                className="chart-calls"
              />
              {b.errors > 0 && (
                <rect
                  x={i * BAR + 1}
                  y={HEIGHT - scale(b.errors)}
                  width={BAR - 2}
                  height={scale(b.errors)}
                  className="chart-errors"
                />
              )}
            </g>
          ),
        )}
      </svg>
      <Flex justify="between">
        <Text size="1" color="gray">
          {minute(series.buckets[0]!.start)}
        </Text>
        <Text size="1" color="gray">
          {minute(series.buckets[series.buckets.length - 1]!.start)}
        </Text>
      </Flex>
      <details>
        <summary>
          <Text size="2">Minutes with calls to {series.instance} as a table</Text>
        </summary>
        <Table.Root size="1">
          <caption className="visually-hidden">Calls per minute to {series.instance}</caption>
          <Table.Header>
            <Table.Row>
              <Table.ColumnHeaderCell>Minute</Table.ColumnHeaderCell>
              <Table.ColumnHeaderCell>Calls</Table.ColumnHeaderCell>
              <Table.ColumnHeaderCell>Errors</Table.ColumnHeaderCell>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {series.buckets
              .filter((b) => b.calls > 0)
              .map((b) => (
                <Table.Row key={b.start.getTime()}>
                  <Table.RowHeaderCell>{minute(b.start)}</Table.RowHeaderCell>
                  <Table.Cell>{b.calls}</Table.Cell>
                  <Table.Cell>{b.errors}</Table.Cell>
                </Table.Row>
              ))}
          </Table.Body>
        </Table.Root>
      </details>
    </Box>
  );
}
