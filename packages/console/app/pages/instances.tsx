import { type McpServerInstance, paginate } from "@berth/sdk";
import { Button, Flex, Heading, Link, Table, Text } from "@radix-ui/themes";
import { useEffect, useState } from "react";
import { followInstanceList } from "../../src/live/instance-list";
import { STREAM_TIMEOUT_MS, useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { StatusBadge } from "../components/status-badge";
import { href } from "../router";
import { CreateInstanceForm } from "./create-instance";

export function InstancesPage() {
  const { client } = useSession();
  const [instances, setInstances] = useState<McpServerInstance[]>();
  const [error, setError] = useState<unknown>();
  const [creating, setCreating] = useState(false);
  const [live, setLive] = useState<"connecting" | "live" | "reconnecting">("connecting");

  // One WatchInstances stream for the whole list: every change of any instance (statuses, new
  // ones, deletions) as it happens, no polling; after a drop the list is read and watched again.
  useEffect(() => {
    const controller = new AbortController();
    void followInstanceList(
      {
        list: async (signal) => {
          const all: McpServerInstance[] = [];
          for await (const instance of paginate(
            (request) => client.instances.listInstances(request, { signal }),
            { pageSize: 100 },
            (answer) => answer.instances,
            20,
          ))
            all.push(instance);
          return all;
        },
        watch: (signal) =>
          client.instances.watchInstances({}, { signal, timeoutMs: STREAM_TIMEOUT_MS }),
      },
      {
        onList: setInstances,
        onState: (state, failure) => {
          setLive(state);
          setError(state === "live" ? undefined : failure);
        },
      },
      controller.signal,
    );
    return () => controller.abort();
  }, [client]);

  return (
    <>
      <Flex justify="between" align="center" wrap="wrap" gap="2" mb="3">
        <Heading as="h2" size="6">
          Instances
        </Heading>
        <Flex gap="3" align="center">
          <Text size="2" color="gray" role="status" data-live={live}>
            {live === "live" ? "Live" : live === "reconnecting" ? "Reconnecting…" : "Connecting…"}
          </Text>
          <Button onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
            New instance
          </Button>
        </Flex>
      </Flex>
      {creating && (
        <CreateInstanceForm
          onCreated={(created) => {
            setCreating(false);
            setInstances((list) => [created, ...(list ?? []).filter((i) => i.id !== created.id)]);
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <ErrorCallout error={error} />
      {instances?.length === 0 && <Text as="p">No instances yet.</Text>}
      {instances && instances.length > 0 && (
        <div className="table-scroll">
          <Table.Root variant="surface">
            <caption className="visually-hidden">Instances</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Name</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Status</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Catalog entry</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Message</Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {instances.map((instance) => (
                <Table.Row key={instance.id} data-instance={instance.name}>
                  <Table.RowHeaderCell>
                    <Link href={href("instances", instance.name)}>{instance.name}</Link>
                  </Table.RowHeaderCell>
                  <Table.Cell>
                    <StatusBadge status={instance.status} />
                  </Table.Cell>
                  <Table.Cell>{instance.serverId || "—"}</Table.Cell>
                  <Table.Cell>
                    <Text size="2" color="gray">
                      {instance.statusMessage}
                    </Text>
                  </Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>
        </div>
      )}
    </>
  );
}
