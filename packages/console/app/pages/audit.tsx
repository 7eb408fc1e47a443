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
import { type FormEvent, useEffect, useState } from "react";
import { asBerthError, useSession } from "../api";
import { CallsChart } from "../components/calls-chart";
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
