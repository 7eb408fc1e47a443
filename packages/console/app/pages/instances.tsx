import { InstanceStatus, type McpServerInstance } from "@berth/sdk";
import { Button, Flex, Heading, Link, Table, Text } from "@radix-ui/themes";
import { useCallback, useEffect, useState } from "react";
import { useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { StatusBadge } from "../components/status-badge";
import { href } from "../router";
import { watchInstance } from "../watch";
import { CreateInstanceForm } from "./create-instance";

/**
 * Browsers open at most six HTTP/1.1 connections to one origin and each watch holds one, so the
 * list follows this many instances live (those changing first) and leaves room for other calls.
 */
const MAX_WATCHED = 4;
const SETTLED = new Set([
  InstanceStatus.RUNNING,
  InstanceStatus.STOPPED,
  InstanceStatus.FAILED,
  InstanceStatus.IDLE,
]);

export function InstancesPage() {
  const { client } = useSession();
  const [instances, setInstances] = useState<McpServerInstance[]>();
  const [error, setError] = useState<unknown>();
  const [creating, setCreating] = useState(false);

  const load = useCallback(async () => {
    try {
      setInstances((await client.instances.listInstances({ pageSize: 100 })).instances);
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);

  // Which instances are followed: those in transition first, then the rest, up to MAX_WATCHED.
  const watched = (instances ?? [])
    .slice()
    .sort((a, b) => Number(SETTLED.has(a.status)) - Number(SETTLED.has(b.status)))
    .slice(0, MAX_WATCHED)
    .map((i) => i.id)
    .sort()
    .join(",");
  useEffect(() => {
    if (!watched) return;
    const controller = new AbortController();
    for (const id of watched.split(",")) {
      watchInstance(
        client,
        id,
        (next) =>
          setInstances((list) =>
            next ? list?.map((i) => (i.id === id ? next : i)) : list?.filter((i) => i.id !== id),
          ),
        controller.signal,
      );
    }
    return () => controller.abort();
  }, [client, watched]);

  return (
    <>
      <Flex justify="between" align="center" wrap="wrap" gap="2" mb="3">
        <Heading as="h2" size="6">
          Instances
        </Heading>
        <Flex gap="2">
          <Button variant="soft" onClick={() => void load()}>
            Refresh
          </Button>
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
