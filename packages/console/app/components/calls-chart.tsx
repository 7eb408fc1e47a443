import { AuditRecordKind, type ListAuditRecordsRequestSchema, McpCallOutcome } from "@berth/sdk";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Box, Button, Card, Flex, Heading, Table, Text } from "@radix-ui/themes";
import { useCallback, useEffect, useState } from "react";
import { bucketCalls, type InstanceSeries } from "../../src/forms/audit-chart";
import { asBerthError, useSession } from "../api";
import { ErrorCallout } from "./error-callout";

type Request = MessageInitShape<typeof ListAuditRecordsRequestSchema>;

/** How many records the chart reads at most (pages of 500): enough for a busy hour's sketch. */
const CHART_PAGES = 10;

/**
 * Calls and errors per minute over the last hour, from the audit trail's MCP call records: for
 * each instance (the audit page), or for one (an instance's page). The audit trail needs an
 * admin credential; others are told so instead of a chart.
 */
export function CallsChart({
  instanceId,
  instanceName,
}: {
  instanceId?: string;
  instanceName?: string;
}) {
  const { client } = useSession();
  const [series, setSeries] = useState<InstanceSeries[]>();
  const [capped, setCapped] = useState(false);
  const [error, setError] = useState<unknown>();
  const [denied, setDenied] = useState(false);
  const load = useCallback(async () => {
    try {
      const now = new Date();
      const request: Request = {
        kind: AuditRecordKind.MCP_CALL,
        startTime: timestampFromDate(new Date(now.getTime() - 60 * 60_000)),
        pageSize: 500,
        ...(instanceId ? { instance: instanceId } : {}),
      };
      // Some records carry only the instance's id (a virtual server's member): named where known.
      const names = new Map<string, string>();
      if (instanceId) names.set(instanceId, instanceName ?? instanceId);
      else {
        const { instances } = await client.instances.listInstances({ pageSize: 100 });
        for (const i of instances) names.set(i.id, i.name);
      }
      const samples = [];
      let token = "";
      let pages = 0;
      do {
        const answer = await client.audit.listAuditRecords({ ...request, pageToken: token });
        for (const r of answer.auditRecords)
          if (r.mcpCall && r.time)
            samples.push({
              instance:
                names.get(r.mcpCall.instanceId) ||
                r.mcpCall.instanceName ||
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
      if (asBerthError(err).code === "PERMISSION_DENIED") setDenied(true);
      else setError(err);
    }
  }, [client, instanceId, instanceName]);
  useEffect(() => {
    void load();
  }, [load]);
  const headingId = instanceId ? "instance-chart-heading" : "chart-heading";
  return (
    <Card my="4" asChild>
      <section aria-labelledby={headingId}>
        <Flex align="center" justify="between" gap="3" wrap="wrap" mb="2">
          <Heading as="h3" size="4" id={headingId}>
            Calls and errors per minute, last hour
          </Heading>
          {!denied && (
            <Button size="1" variant="soft" onClick={() => void load()}>
              Refresh chart
            </Button>
          )}
        </Flex>
        <ErrorCallout error={error} />
        {denied && (
          <Text as="p" color="gray">
            Drawn from the audit trail, which needs an admin credential.
          </Text>
        )}
        {series && series.length === 0 && (
          <Text as="p" data-chart-empty="">
            No MCP calls in the last hour.
          </Text>
        )}
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
    <Box
      data-chart-instance={series.instance}
      data-calls={series.calls}
      data-errors={series.errors}
    >
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
