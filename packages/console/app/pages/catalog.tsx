import { EnvVarType, type McpServer, Transport } from "@berth/sdk";
import {
  Badge,
  Box,
  Button,
  Card,
  Code,
  Flex,
  Heading,
  Link,
  Table,
  Text,
  TextArea,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { asBerthError, useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { FormField, fieldAria } from "../components/form-field";

/** The catalog: search entries, read each env_schema, import a server.json, export one. */
export function CatalogPage() {
  const { client } = useSession();
  const [query, setQuery] = useState("");
  const [servers, setServers] = useState<McpServer[]>();
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<unknown>();

  const load = useCallback(
    async (search: string) => {
      try {
        setServers((await client.registry.listServers({ pageSize: 100, query: search })).servers);
        setError(undefined);
      } catch (err) {
        setError(err);
      }
    },
    [client],
  );
  useEffect(() => {
    void load("");
  }, [load]);
  const server = servers?.find((s) => s.id === selected);

  return (
    <>
      <Heading as="h2" size="6" mb="3">
        Catalog
      </Heading>
      <ImportCard
        onImported={(imported) => {
          void load(query);
          setSelected(imported.id);
        }}
      />
      <form
        aria-label="Search the catalog"
        onSubmit={(e) => {
          e.preventDefault();
          void load(query);
        }}
      >
        <Flex gap="2" align="end" mb="3" wrap="wrap">
          <Box flexGrow="1">
            <FormField id="catalog-search" label="Search the catalog">
              <TextField.Root
                id="catalog-search"
                type="search"
                value={query}
                onChange={(e) => setQuery(e.target.value)}
              />
            </FormField>
          </Box>
          <Box mb="3">
            <Button type="submit">Search</Button>
          </Box>
        </Flex>
      </form>
      <ErrorCallout error={error} />
      {servers?.length === 0 && <Text as="p">No catalog entries match.</Text>}
      {servers && servers.length > 0 && (
        <div className="table-scroll">
          <Table.Root variant="surface">
            <caption className="visually-hidden">Catalog entries</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Name</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Title</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Transport</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Version</Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {servers.map((s) => (
                <Table.Row key={s.id} data-server={s.name}>
                  <Table.RowHeaderCell>
                    <Link
                      href="#/catalog"
                      aria-current={s.id === selected ? "true" : undefined}
                      onClick={(e) => {
                        e.preventDefault();
                        setSelected(s.id);
                      }}
                    >
                      {s.name}
                    </Link>
                  </Table.RowHeaderCell>
                  <Table.Cell>{s.title}</Table.Cell>
                  <Table.Cell>{Transport[s.transport]}</Table.Cell>
                  <Table.Cell>{s.version}</Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>
        </div>
      )}
      {server && <ServerCard server={server} />}
    </>
  );
}

/** One entry: its description, its env_schema, and its export as server.json. */
function ServerCard({ server }: { server: McpServer }) {
  const { client } = useSession();
  const [exported, setExported] = useState<string>();
  const [error, setError] = useState<unknown>();
  const exportJson = async () => {
    try {
      const { serverJson } = await client.registry.exportServer({ id: server.id });
      const text = `${JSON.stringify(serverJson, null, 2)}\n`;
      setExported(text);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      link.download = `${server.name.replace(/[^a-zA-Z0-9.-]+/g, "_")}.server.json`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card mt="4" asChild>
      <section aria-labelledby="server-heading">
        <Flex justify="between" align="center" wrap="wrap" gap="2" mb="2">
          <Heading as="h3" size="4" id="server-heading">
            {server.name}
          </Heading>
          <Button variant="soft" onClick={() => void exportJson()}>
            Export server.json
          </Button>
        </Flex>
        <Text as="p" mb="2">
          {server.description}
        </Text>
        <Text as="p" size="2" color="gray" mb="3">
          {server.image ? (
            <>
              Image <Code>{server.image}</Code>
            </>
          ) : (
            `${server.remotes.length} remote endpoint(s)`
          )}
        </Text>
        <Heading as="h4" size="3" mb="2">
          Configuration (env_schema)
        </Heading>
        {server.envSchema.length === 0 ? (
          <Text as="p" size="2">
            None.
          </Text>
        ) : (
          <div className="table-scroll">
            <Table.Root size="1">
              <caption className="visually-hidden">Variables of {server.name}</caption>
              <Table.Header>
                <Table.Row>
                  <Table.ColumnHeaderCell>Variable</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Type</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Flags</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Default</Table.ColumnHeaderCell>
                  <Table.ColumnHeaderCell>Description</Table.ColumnHeaderCell>
                </Table.Row>
              </Table.Header>
              <Table.Body>
                {server.envSchema.map((v) => (
                  <Table.Row key={v.name}>
                    <Table.RowHeaderCell>
                      <Code>{v.name}</Code>
                    </Table.RowHeaderCell>
                    <Table.Cell>{(EnvVarType[v.type] ?? "STRING").toLowerCase()}</Table.Cell>
                    <Table.Cell>
                      <Flex gap="1" wrap="wrap">
                        {v.required && (
                          <Badge highContrast color="amber">
                            required
                          </Badge>
                        )}
                        {v.secret && (
                          <Badge highContrast color="red">
                            secret
                          </Badge>
                        )}
                        {v.choices.length > 0 && (
                          <Badge highContrast>{v.choices.join(" | ")}</Badge>
                        )}
                      </Flex>
                    </Table.Cell>
                    <Table.Cell>{v.secret ? "" : (v.defaultValue ?? "")}</Table.Cell>
                    <Table.Cell>{v.description}</Table.Cell>
                  </Table.Row>
                ))}
              </Table.Body>
            </Table.Root>
          </div>
        )}
        <ErrorCallout error={error} />
        {exported && (
          <details>
            <summary>Exported server.json</summary>
            <pre className="log">{exported}</pre>
          </details>
        )}
      </section>
    </Card>
  );
}

/** Import a server.json (the official MCP registry's format), pasted or from a file. */
function ImportCard({ onImported }: { onImported: (server: McpServer) => void }) {
  const { client } = useSession();
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>();
  const [textError, setTextError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setTextError(undefined);
    setDone(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      setTextError(`is not JSON: ${(err as Error).message}`);
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      setTextError("must be a JSON object");
      return;
    }
    setBusy(true);
    try {
      const answer = await client.registry.importServer({
        serverJson: parsed as Record<string, never>,
      });
      if (answer.server) {
        setDone(`Imported ${answer.server.name}${answer.changed ? "" : " (unchanged)"}.`);
        onImported(answer.server);
      }
    } catch (err) {
      const violations = asBerthError(err).fieldViolations;
      if (violations.length > 0)
        setTextError(violations.map((v) => `${v.field} ${v.description}`).join("; "));
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card mb="4" asChild>
      <section aria-labelledby="import-heading">
        <Heading as="h3" size="4" id="import-heading" mb="2">
          Import a server.json
        </Heading>
        <form onSubmit={submit} noValidate>
          <FormField id="import-file" label="From a file">
            <input
              id="import-file"
              type="file"
              accept="application/json,.json"
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (file) setText(await file.text());
              }}
            />
          </FormField>
          <FormField
            id="import-json"
            label="server.json"
            description="Paste the document, or pick a file above."
            error={textError}
          >
            <TextArea
              {...fieldAria("import-json", "x", textError)}
              rows={8}
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
          </FormField>
          <ErrorCallout error={error} />
          {done && (
            <Text as="p" role="status" color="green" mb="2">
              {done}
            </Text>
          )}
          <Button type="submit" loading={busy} disabled={text.trim() === ""}>
            Import
          </Button>
        </form>
      </section>
    </Card>
  );
}
