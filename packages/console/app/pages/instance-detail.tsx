import { InstanceStatus, type Tool } from "@berth/sdk";
import {
  AlertDialog,
  Badge,
  Box,
  Button,
  Card,
  Code,
  DataList,
  Flex,
  Heading,
  Link,
  Table,
  Text,
} from "@radix-ui/themes";
import { useEffect, useRef, useState } from "react";
import { describeError, STREAM_TIMEOUT_MS, useSession } from "../api";
import { CallsChart } from "../components/calls-chart";
import { ErrorCallout } from "../components/error-callout";
import { StatusBadge, statusName } from "../components/status-badge";
import { href, navigate } from "../router";
import { useWatchedInstance } from "../watch";
import { TryToolPanel } from "./try-tool";

type Action = "start" | "stop" | "restart" | "delete";
const LIVE = new Set([InstanceStatus.RUNNING, InstanceStatus.UNHEALTHY]);

/** One instance: live status, actions, the tools it offers, a panel to call one, its logs. */
export function InstanceDetailPage({ id }: { id: string }) {
  const { client } = useSession();
  const instance = useWatchedInstance(client, id);
  const [pending, setPending] = useState<Action>();
  const [error, setError] = useState<unknown>();
  const [tools, setTools] = useState<Tool[]>();
  const status = instance?.status;
  const instanceId = instance?.id;

  // The tools the runtime saw at its last health probe, read again whenever the instance runs.
  useEffect(() => {
    if (status === undefined || !LIVE.has(status) || !instanceId) return;
    client.runtime
      .listInstanceTools({ instanceId })
      .then((answer) => setTools(answer.tools))
      .catch(() => setTools(undefined));
  }, [client, instanceId, status]);

  if (instance === null)
    return (
      <Text as="p" role="status">
        Instance {id} is gone. <Link href={href("instances")}>Back to instances</Link>
      </Text>
    );
  if (!instance) return <Text role="status">Loading {id}…</Text>;

  const act = async (action: Action) => {
    setPending(action);
    setError(undefined);
    try {
      const request = { id: instance.id };
      if (action === "start") await client.instances.startInstance(request);
      if (action === "stop") await client.instances.stopInstance(request);
      if (action === "restart") await client.instances.restartInstance(request);
      if (action === "delete") {
        await client.instances.deleteInstance(request);
        navigate("instances");
      }
    } catch (err) {
      setError(err);
    } finally {
      setPending(undefined);
    }
  };
  const mcpUrl = `${window.location.origin}/mcp/${instance.name}`;

  return (
    <>
      <Text as="p" size="2" mb="2">
        <Link href={href("instances")}>← Instances</Link>
      </Text>
      <Flex align="center" gap="3" wrap="wrap" mb="3">
        <Heading as="h2" size="6">
          {instance.name}
        </Heading>
        <span aria-live="polite" aria-atomic="true">
          <StatusBadge status={instance.status} />
        </span>
      </Flex>
      <DataList.Root mb="4" orientation={{ initial: "vertical", sm: "horizontal" }}>
        <DataList.Item>
          <DataList.Label>Catalog entry</DataList.Label>
          <DataList.Value>{instance.serverId || "—"}</DataList.Value>
        </DataList.Item>
        <DataList.Item>
          <DataList.Label>Status message</DataList.Label>
          <DataList.Value>{instance.statusMessage || "—"}</DataList.Value>
        </DataList.Item>
        <DataList.Item>
          <DataList.Label>MCP URL</DataList.Label>
          <DataList.Value>
            <Code>{mcpUrl}</Code>
          </DataList.Value>
        </DataList.Item>
        <DataList.Item>
          <DataList.Label>Generation</DataList.Label>
          <DataList.Value>{String(instance.generation)}</DataList.Value>
        </DataList.Item>
      </DataList.Root>
      <Flex gap="2" wrap="wrap" mb="2" role="group" aria-label="Instance actions">
        {(["start", "stop", "restart"] as const).map((action) => (
          <Button
            key={action}
            variant="soft"
            loading={pending === action}
            disabled={pending !== undefined}
            onClick={() => void act(action)}
          >
            {action[0]!.toUpperCase() + action.slice(1)}
          </Button>
        ))}
        <AlertDialog.Root>
          <AlertDialog.Trigger>
            <Button color="red" variant="soft" loading={pending === "delete"}>
              Delete
            </Button>
          </AlertDialog.Trigger>
          <AlertDialog.Content maxWidth="28rem">
            <AlertDialog.Title>Delete {instance.name}?</AlertDialog.Title>
            <AlertDialog.Description>
              Its workload is removed and its secrets are destroyed.
            </AlertDialog.Description>
            <Flex gap="2" mt="4" justify="end">
              <AlertDialog.Cancel>
                <Button variant="soft" color="gray">
                  Cancel
                </Button>
              </AlertDialog.Cancel>
              <AlertDialog.Action>
                <Button color="red" onClick={() => void act("delete")}>
                  Delete instance
                </Button>
              </AlertDialog.Action>
            </Flex>
          </AlertDialog.Content>
        </AlertDialog.Root>
      </Flex>
      {pending && (
        <Text as="p" role="status" size="2" color="gray">
          {pending}: requested; status {statusName(instance.status)}
        </Text>
      )}
      <ErrorCallout error={error} />

      <Card mt="4" asChild>
        <section aria-labelledby="tools-heading">
          <Heading as="h3" size="4" id="tools-heading" mb="2">
            Tools
          </Heading>
          {!tools && <Text color="gray">Tools are listed while the instance runs.</Text>}
          {tools && (
            <div className="table-scroll">
              <Table.Root size="1">
                <caption className="visually-hidden">Tools</caption>
                <Table.Body>
                  {tools.map((tool) => (
                    <Table.Row key={tool.name}>
                      <Table.RowHeaderCell>
                        <Code>{tool.name}</Code>
                      </Table.RowHeaderCell>
                      <Table.Cell>{tool.description}</Table.Cell>
                    </Table.Row>
                  ))}
                </Table.Body>
              </Table.Root>
            </div>
          )}
        </section>
      </Card>
      {LIVE.has(instance.status) && <TryToolPanel instanceName={instance.name} />}
      <CallsChart instanceId={instance.id} instanceName={instance.name} />
      <LogsPanel instanceId={instance.id} />
    </>
  );
}

/** The instance's logs, followed as they are written (RuntimeService.StreamLogs, follow). */
function LogsPanel({ instanceId }: { instanceId: string }) {
  const { client } = useSession();
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState("connecting");
  const view = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const controller = new AbortController();
    const follow = async () => {
      try {
        setState("following");
        for await (const entry of client.runtime.streamLogs(
          { instanceId, follow: true, tailLines: 200 },
          { signal: controller.signal, timeoutMs: STREAM_TIMEOUT_MS },
        )) {
          setLines((all) => [...all.slice(-999), entry.line]);
        }
        setState("ended");
      } catch (err) {
        if (!controller.signal.aborted) setState(describeError(err));
      }
    };
    void follow();
    return () => controller.abort();
  }, [client, instanceId]);
  useEffect(() => {
    const el = view.current;
    if (el) el.scrollTop = el.scrollHeight;
  });
  return (
    <Card mt="4" asChild>
      <section aria-labelledby="logs-heading">
        <Flex align="center" gap="2" mb="2">
          <Heading as="h3" size="4" id="logs-heading">
            Logs
          </Heading>
          <Badge highContrast variant="outline" color="gray">
            {state}
          </Badge>
        </Flex>
        <Box>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1) */}
          <pre className="log" ref={view} role="log" aria-label="Log lines" tabIndex={0}>
            {lines.length === 0 ? "(no lines yet)" : lines.join("\n")}
          </pre>
        </Box>
      </section>
    </Card>
  );
}
