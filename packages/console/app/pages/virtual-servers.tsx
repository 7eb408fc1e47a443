import type { McpServerInstance, VirtualServer } from "@berth/sdk";
import {
  AlertDialog,
  Box,
  Button,
  Card,
  Code,
  DataList,
  Flex,
  Heading,
  Link,
  Select,
  Table,
  Text,
  TextArea,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, type ReactNode, useCallback, useEffect, useState } from "react";
import {
  emptyMember,
  emptyOverride,
  fieldErrors,
  fromVirtualServer,
  type MemberDraft,
  memberField,
  type OverrideDraft,
  overrideField,
  type PrefixMode,
  SEPARATORS,
  toVirtualServer,
  type VirtualServerDraft,
} from "../../src/forms/virtual-server-form";
import { asBerthError, useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { FormField, fieldAria } from "../components/form-field";
import { type McpTool, useMcpSession } from "../mcp";
import { href, navigate } from "../router";
import { TryToolCard } from "./try-tool";

/** #/virtual-servers, #/virtual-servers/new and #/virtual-servers/{name}. */
export function VirtualServersRoute({ param }: { param: string | undefined }) {
  if (param === undefined) return <VirtualServersPage />;
  if (param === "new") return <NewVirtualServerPage />;
  return <VirtualServerDetailPage name={param} />;
}

/** The virtual servers, each with its members and endpoint. */
function VirtualServersPage() {
  const { client } = useSession();
  const [servers, setServers] = useState<VirtualServer[]>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    client.virtualServers
      .listVirtualServers({ pageSize: 100 })
      .then((answer) => setServers(answer.virtualServers))
      .catch(setError);
  }, [client]);
  return (
    <>
      <Flex align="center" justify="between" gap="3" wrap="wrap" mb="3">
        <Heading as="h2" size="6">
          Virtual servers
        </Heading>
        <Button asChild>
          <a href={href("virtual-servers", "new")}>New virtual server</a>
        </Button>
      </Flex>
      <Text as="p" size="2" color="gray" mb="3">
        One MCP endpoint composed of several instances, with namespaces, allow and deny lists and
        per-tool overrides.
      </Text>
      <ErrorCallout error={error} />
      {servers && servers.length === 0 && <Text as="p">No virtual servers yet.</Text>}
      {servers && servers.length > 0 && (
        <div className="table-scroll">
          <Table.Root variant="surface">
            <caption className="visually-hidden">Virtual servers</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Name</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Members</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Endpoint</Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {servers.map((vs) => (
                <Table.Row key={vs.id} data-virtual-server={vs.name}>
                  <Table.RowHeaderCell>
                    <Link href={href("virtual-servers", vs.name)}>{vs.name}</Link>
                  </Table.RowHeaderCell>
                  <Table.Cell>{vs.members.map((m) => m.instanceName).join(", ")}</Table.Cell>
                  <Table.Cell>
                    <Code>{vs.endpoint}</Code>
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

function BackLink() {
  return (
    <Text as="p" size="2" mb="2">
      <Link href={href("virtual-servers")}>← Virtual servers</Link>
    </Text>
  );
}

function NewVirtualServerPage() {
  return (
    <>
      <BackLink />
      <Heading as="h2" size="6" mb="3">
        New virtual server
      </Heading>
      <VirtualServerEditor onSaved={(vs) => navigate("virtual-servers", vs.name)} />
    </>
  );
}

/** One virtual server: its endpoint, the editor, delete, and a preview of its tools/list. */
function VirtualServerDetailPage({ name }: { name: string }) {
  const { client, bearer } = useSession();
  const [vs, setVs] = useState<VirtualServer | null>();
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const load = useCallback(async () => {
    try {
      setVs((await client.virtualServers.getVirtualServer({ id: name })).virtualServer ?? null);
    } catch (err) {
      if (asBerthError(err).code === "NOT_FOUND") setVs(null);
      else setError(err);
    }
  }, [client, name]);
  useEffect(() => {
    void load();
  }, [load]);
  // The preview opens a fresh MCP session after every save, so it shows the saved composition.
  const session = useMcpSession(
    vs ? { kind: "virtual-server", name: vs.name } : undefined,
    bearer,
    version,
  );

  if (vs === null)
    return (
      <Text as="p" role="status">
        Virtual server {name} is gone. <Link href={href("virtual-servers")}>Back</Link>
      </Text>
    );
  if (!vs)
    return (
      <>
        <ErrorCallout error={error} />
        <Text role="status">Loading {name}…</Text>
      </>
    );
  const remove = async () => {
    try {
      await client.virtualServers.deleteVirtualServer({ id: vs.id, revision: vs.revision });
      navigate("virtual-servers");
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <BackLink />
      <Flex align="center" justify="between" gap="3" wrap="wrap" mb="3">
        <Heading as="h2" size="6">
          {vs.name}
        </Heading>
        <AlertDialog.Root>
          <AlertDialog.Trigger>
            <Button color="red" variant="soft">
              Delete
            </Button>
          </AlertDialog.Trigger>
          <AlertDialog.Content maxWidth="28rem">
            <AlertDialog.Title>Delete {vs.name}?</AlertDialog.Title>
            <AlertDialog.Description>
              Its endpoint goes and its open MCP sessions end; the member instances stay.
            </AlertDialog.Description>
            <Flex gap="2" mt="4" justify="end">
              <AlertDialog.Cancel>
                <Button variant="soft" color="gray">
                  Cancel
                </Button>
              </AlertDialog.Cancel>
              <AlertDialog.Action>
                <Button color="red" onClick={() => void remove()}>
                  Delete virtual server
                </Button>
              </AlertDialog.Action>
            </Flex>
          </AlertDialog.Content>
        </AlertDialog.Root>
      </Flex>
      <DataList.Root mb="4" orientation={{ initial: "vertical", sm: "horizontal" }}>
        <DataList.Item>
          <DataList.Label>MCP URL</DataList.Label>
          <DataList.Value>
            <Code>{`${window.location.origin}${vs.endpoint}`}</Code>
          </DataList.Value>
        </DataList.Item>
        <DataList.Item>
          <DataList.Label>Revision</DataList.Label>
          <DataList.Value>{String(vs.revision)}</DataList.Value>
        </DataList.Item>
      </DataList.Root>
      <ErrorCallout error={error} />
      <PreviewTools name={vs.name} tools={session.tools} problem={session.problem} />
      <TryToolCard session={session} />
      <Card mt="4" asChild>
        <section aria-labelledby="edit-heading">
          <Heading as="h3" size="4" id="edit-heading" mb="2">
            Edit
          </Heading>
          <VirtualServerEditor
            key={String(vs.revision)}
            existing={vs}
            onSaved={(saved) => {
              setVs(saved);
              setVersion((v) => v + 1);
            }}
          />
        </section>
      </Card>
    </>
  );
}

/** The tools/list an MCP client sees at the virtual server's endpoint. */
function PreviewTools(props: {
  name: string;
  tools: readonly McpTool[] | undefined;
  problem: string | undefined;
}) {
  const argumentNames = (tool: McpTool) => {
    const schema = tool.inputSchema as { properties?: Record<string, unknown> } | undefined;
    return Object.keys(schema?.properties ?? {}).join(", ") || "—";
  };
  return (
    <Card asChild>
      <section aria-labelledby="preview-heading">
        <Heading as="h3" size="4" id="preview-heading" mb="2">
          Preview: tools/list
        </Heading>
        <Text as="p" size="2" color="gray" mb="2">
          What an MCP client sees at this endpoint now (members that are not running offer no
          tools).
        </Text>
        {props.problem && (
          <Text as="p" color="red" role="alert">
            {props.problem}
          </Text>
        )}
        {!props.tools && !props.problem && <Text role="status">Listing tools…</Text>}
        {props.tools && (
          <div className="table-scroll">
            <Table.Root size="1">
              <caption className="visually-hidden">Tools of {props.name}</caption>
              <Table.Header>
                <Table.Row>
                  <Table.ColumnHeaderCell>Tool</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Description</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Arguments</Table.ColumnHeaderCell>
                </Table.Row>
              </Table.Header>
              <Table.Body>
                {props.tools.length === 0 && (
                  <Table.Row>
                    <Table.Cell colSpan={3}>No tools.</Table.Cell>
                  </Table.Row>
                )}
                {props.tools.map((tool) => (
                  <Table.Row key={tool.name}>
                    <Table.RowHeaderCell>
                      <Code>{tool.name}</Code>
                    </Table.RowHeaderCell>
                    <Table.Cell>{tool.description ?? ""}</Table.Cell>
                    <Table.Cell>{argumentNames(tool)}</Table.Cell>
                  </Table.Row>
                ))}
              </Table.Body>
            </Table.Root>
          </div>
        )}
      </section>
    </Card>
  );
}

const PREFIX_MODES: { mode: PrefixMode; label: string }[] = [
  { mode: "instance", label: "The instance's name" },
  { mode: "custom", label: "A prefix of my own" },
  { mode: "none", label: "No prefix" },
];

/**
 * Create or edit a virtual server: members chosen among the instances, each with its namespace,
 * allow/deny patterns and tool overrides. Every field violation is shown at its field.
 */
function VirtualServerEditor(props: {
  existing?: VirtualServer;
  onSaved: (vs: VirtualServer) => void;
}) {
  const { client } = useSession();
  const { existing } = props;
  const [instances, setInstances] = useState<McpServerInstance[]>([]);
  const [draft, setDraft] = useState<VirtualServerDraft>(() =>
    existing
      ? fromVirtualServer(existing)
      : { name: "", description: "", members: [emptyMember()] },
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    client.instances
      .listInstances({ pageSize: 100 })
      .then((answer) => setInstances(answer.instances))
      .catch(setError);
  }, [client]);

  const setMember = (i: number, change: Partial<MemberDraft>) =>
    setDraft((d) => ({
      ...d,
      members: d.members.map((m, k) => (k === i ? { ...m, ...change } : m)),
    }));
  const setOverride = (i: number, j: number, change: Partial<OverrideDraft>) =>
    setMember(i, {
      overrides: draft.members[i]!.overrides.map((o, k) => (k === j ? { ...o, ...change } : o)),
    });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    const { value, errors: local } = toVirtualServer(draft);
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    try {
      const answer = existing
        ? await client.virtualServers.updateVirtualServer({
            virtualServer: { ...value, id: existing.id, revision: existing.revision },
            updateMask: { paths: ["description", "members"] },
          })
        : await client.virtualServers.createVirtualServer({ virtualServer: value });
      setSaved(true);
      if (answer.virtualServer) props.onSaved(answer.virtualServer);
    } catch (err) {
      const byField = fieldErrors(asBerthError(err).fieldViolations);
      setErrors(byField);
      // Violations with no field on the form (and other failures) are said above the button.
      const shown = new Set(visibleFields(draft));
      if (Object.keys(byField).some((f) => !shown.has(f)) || Object.keys(byField).length === 0)
        setError(err);
    } finally {
      setBusy(false);
    }
  };

  const text = (id: string, field: string, props: Omit<FieldProps, "id" | "error">) => (
    <TextInput id={id} error={errors[field]} {...props} />
  );

  return (
    <form
      onSubmit={submit}
      noValidate
      aria-label={existing ? `Edit ${existing.name}` : "New virtual server"}
    >
      {text("vs-name", "name", {
        label: "Name",
        required: true,
        description: "Clients connect to /mcp/v/{name}; it cannot change later.",
        value: draft.name,
        disabled: existing !== undefined,
        onChange: (name) => setDraft((d) => ({ ...d, name })),
      })}
      {text("vs-description", "description", {
        label: "Description",
        value: draft.description,
        onChange: (description) => setDraft((d) => ({ ...d, description })),
      })}
      {errors.members && (
        <Text as="p" id="vs-members-error" color="red" size="2" role="alert" mb="2">
          Members {errors.members}
        </Text>
      )}
      {draft.members.map((member, i) => {
        const at = (field: string) => memberField(i, field);
        const id = (field: string) => `vs-m${i}-${field}`;
        const instanceName = instances.find((x) => x.id === member.instance)?.name;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: members have no identity before they are saved
          <fieldset key={i} aria-describedby={errors.members ? "vs-members-error" : undefined}>
            <legend>
              <Text weight="bold" size="3">
                Member {i + 1}
                {instanceName ? `: ${instanceName}` : ""}
              </Text>
            </legend>
            <FormField id={id("instance")} label="Instance" required error={errors[at("instance")]}>
              <Select.Root
                value={member.instance || undefined}
                onValueChange={(instance) => setMember(i, { instance })}
              >
                <Select.Trigger
                  {...fieldAria(id("instance"), undefined, errors[at("instance")])}
                  placeholder="Choose an instance…"
                />
                <Select.Content>
                  {instances.map((x) => (
                    <Select.Item key={x.id} value={x.id}>
                      {x.name}
                    </Select.Item>
                  ))}
                </Select.Content>
              </Select.Root>
            </FormField>
            <Flex gap="3" wrap="wrap">
              <Box minWidth="12rem">
                <FormField
                  id={id("prefix-mode")}
                  label="Namespace prefix"
                  error={member.prefixMode === "custom" ? undefined : errors[at("prefix")]}
                >
                  <Select.Root
                    value={member.prefixMode}
                    onValueChange={(mode) => setMember(i, { prefixMode: mode as PrefixMode })}
                  >
                    <Select.Trigger
                      {...fieldAria(
                        id("prefix-mode"),
                        undefined,
                        member.prefixMode === "custom" ? undefined : errors[at("prefix")],
                      )}
                    />
                    <Select.Content>
                      {PREFIX_MODES.map(({ mode, label }) => (
                        <Select.Item key={mode} value={mode}>
                          {label}
                        </Select.Item>
                      ))}
                    </Select.Content>
                  </Select.Root>
                </FormField>
              </Box>
              {member.prefixMode === "custom" && (
                <Box minWidth="12rem">
                  {text(id("prefix"), at("prefix"), {
                    label: "Prefix",
                    value: member.prefix,
                    onChange: (prefix) => setMember(i, { prefix }),
                  })}
                </Box>
              )}
              <Box minWidth="8rem">
                <FormField id={id("separator")} label="Separator" error={errors[at("separator")]}>
                  <Select.Root
                    value={member.separator || "_"}
                    onValueChange={(separator) => setMember(i, { separator })}
                  >
                    <Select.Trigger
                      {...fieldAria(id("separator"), undefined, errors[at("separator")])}
                    />
                    <Select.Content>
                      {SEPARATORS.map((s) => (
                        <Select.Item key={s} value={s}>
                          {s}
                        </Select.Item>
                      ))}
                    </Select.Content>
                  </Select.Root>
                </FormField>
              </Box>
            </Flex>
            <Flex gap="3" wrap="wrap">
              <Box flexGrow="1" minWidth="12rem">
                {text(id("allow"), at("allow_tools"), {
                  label: "Allow tools",
                  description: "Names or patterns (* ?), one per line; empty allows all.",
                  value: member.allow,
                  multiline: true,
                  onChange: (allow) => setMember(i, { allow }),
                })}
              </Box>
              <Box flexGrow="1" minWidth="12rem">
                {text(id("deny"), at("deny_tools"), {
                  label: "Deny tools",
                  description: "Refused even when allowed.",
                  value: member.deny,
                  multiline: true,
                  onChange: (deny) => setMember(i, { deny }),
                })}
              </Box>
            </Flex>
            {member.overrides.map((o, j) => {
              const oid = (field: string) => `vs-m${i}-o${j}-${field}`;
              const of = (field: string) => overrideField(i, j, field);
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: overrides have no identity of their own
                <fieldset key={j}>
                  <legend>
                    <Text weight="bold" size="2">
                      Override {j + 1}
                      {o.tool ? `: ${o.tool}` : ""}
                    </Text>
                  </legend>
                  <Flex gap="3" wrap="wrap">
                    <Box minWidth="10rem" flexGrow="1">
                      {text(oid("tool"), of("tool"), {
                        label: "Member tool",
                        required: true,
                        value: o.tool,
                        onChange: (tool) => setOverride(i, j, { tool }),
                      })}
                    </Box>
                    <Box minWidth="10rem" flexGrow="1">
                      {text(oid("name"), of("name"), {
                        label: "Exposed name",
                        description: "In full; empty keeps prefix + separator + tool.",
                        value: o.name,
                        onChange: (name) => setOverride(i, j, { name }),
                      })}
                    </Box>
                  </Flex>
                  {text(oid("description"), of("description"), {
                    label: "Description",
                    value: o.description,
                    onChange: (description) => setOverride(i, j, { description }),
                  })}
                  {text(oid("pinned"), of("pinned_arguments"), {
                    label: "Pinned arguments",
                    description:
                      'A JSON object, e.g. {"units": "metric"}: always sent, hidden from clients.',
                    value: o.pinned,
                    multiline: true,
                    onChange: (pinned) => setOverride(i, j, { pinned }),
                  })}
                  <Button
                    type="button"
                    size="1"
                    variant="soft"
                    color="gray"
                    onClick={() =>
                      setMember(i, { overrides: member.overrides.filter((_, k) => k !== j) })
                    }
                  >
                    Remove override {j + 1} of member {i + 1}
                  </Button>
                </fieldset>
              );
            })}
            <Flex gap="2" wrap="wrap">
              <Button
                type="button"
                size="1"
                variant="soft"
                onClick={() => setMember(i, { overrides: [...member.overrides, emptyOverride()] })}
              >
                Add a tool override to member {i + 1}
              </Button>
              {draft.members.length > 1 && (
                <Button
                  type="button"
                  size="1"
                  variant="soft"
                  color="red"
                  onClick={() =>
                    setDraft((d) => ({ ...d, members: d.members.filter((_, k) => k !== i) }))
                  }
                >
                  Remove member {i + 1}
                </Button>
              )}
            </Flex>
          </fieldset>
        );
      })}
      <Flex gap="2" wrap="wrap" mb="3">
        <Button
          type="button"
          variant="soft"
          onClick={() => setDraft((d) => ({ ...d, members: [...d.members, emptyMember()] }))}
        >
          Add member
        </Button>
      </Flex>
      <ErrorCallout error={error} />
      {saved && (
        <Text as="p" role="status" color="green" mb="2">
          Saved.
        </Text>
      )}
      <Button type="submit" loading={busy}>
        {existing ? "Save changes" : "Create virtual server"}
      </Button>
    </form>
  );
}

/** The form's field keys that have an input (a violation elsewhere is said above the button). */
function visibleFields(draft: VirtualServerDraft): string[] {
  const fields = ["name", "description", "members"];
  draft.members.forEach((m, i) => {
    for (const f of ["instance", "prefix", "separator", "allow_tools", "deny_tools"])
      fields.push(memberField(i, f));
    m.overrides.forEach((_, j) => {
      for (const f of ["tool", "name", "description", "pinned_arguments"])
        fields.push(overrideField(i, j, f));
    });
  });
  return fields;
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  required?: boolean;
  description?: string;
  disabled?: boolean;
  multiline?: boolean;
}

function TextInput(props: FieldProps): ReactNode {
  const aria = fieldAria(props.id, props.description, props.error);
  return (
    <FormField
      id={props.id}
      label={props.label}
      required={props.required ?? false}
      {...(props.description ? { description: props.description } : {})}
      error={props.error}
    >
      {props.multiline ? (
        <TextArea
          {...aria}
          rows={2}
          value={props.value}
          disabled={props.disabled}
          onChange={(e) => props.onChange(e.target.value)}
        />
      ) : (
        <TextField.Root
          {...aria}
          value={props.value}
          disabled={props.disabled}
          onChange={(e) => props.onChange(e.target.value)}
        />
      )}
    </FormField>
  );
}
