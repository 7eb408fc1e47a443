import { type ApiKey, ApiKeyScope, ApiKeyState } from "@berth/sdk";
import {
  AlertDialog,
  Badge,
  Button,
  Callout,
  Card,
  Checkbox,
  Code,
  Flex,
  Heading,
  Table,
  Text,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { asBerthError, useSession } from "../api";
import { ErrorCallout } from "../components/error-callout";
import { FormField, fieldAria } from "../components/form-field";

const SCOPES = [
  { scope: ApiKeyScope.READ, name: "read", help: "list and read everything" },
  { scope: ApiKeyScope.WRITE, name: "write", help: "read, create and change" },
  { scope: ApiKeyScope.ADMIN, name: "admin", help: "everything, keys too" },
  { scope: ApiKeyScope.MCP, name: "mcp", help: "call instances through /mcp" },
] as const;

const scopeName = (scope: ApiKeyScope) => (ApiKeyScope[scope] ?? "").toLowerCase();

/** API keys: create (the secret is shown once), scopes, instance limits, revoke. */
export function ApiKeysPage() {
  const { client } = useSession();
  const [keys, setKeys] = useState<ApiKey[]>();
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [error, setError] = useState<unknown>();
  const load = useCallback(async () => {
    try {
      setKeys((await client.apiKeys.listApiKeys({ pageSize: 100 })).apiKeys);
      // Keys hold instance ids: shown by name where the instance still exists.
      const { instances } = await client.instances.listInstances({ pageSize: 100 });
      setNames(new Map(instances.map((i) => [i.id, i.name])));
    } catch (err) {
      setError(err);
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  const revoke = async (key: ApiKey) => {
    try {
      await client.apiKeys.revokeApiKey({ id: key.id });
      await load();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <Heading as="h2" size="6" mb="3">
        API keys
      </Heading>
      <CreateKeyCard onCreated={() => void load()} />
      <ErrorCallout error={error} />
      {keys && (
        <div className="table-scroll">
          <Table.Root variant="surface">
            <caption className="visually-hidden">API keys</caption>
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeaderCell>Name</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Scopes</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>Instances</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>State</Table.ColumnHeaderCell>
                <Table.ColumnHeaderCell>
                  <span className="visually-hidden">Actions</span>
                </Table.ColumnHeaderCell>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {keys.map((key) => (
                <Table.Row key={key.id} data-key={key.displayName}>
                  <Table.RowHeaderCell>{key.displayName}</Table.RowHeaderCell>
                  <Table.Cell>{key.scopes.map(scopeName).join(", ")}</Table.Cell>
                  <Table.Cell>
                    {key.instances.map((id) => names.get(id) ?? id).join(", ") || "all"}
                  </Table.Cell>
                  <Table.Cell>
                    <Badge highContrast color={key.state === ApiKeyState.ACTIVE ? "green" : "gray"}>
                      {ApiKeyState[key.state]}
                    </Badge>
                  </Table.Cell>
                  <Table.Cell>
                    {key.state === ApiKeyState.ACTIVE && (
                      <AlertDialog.Root>
                        <AlertDialog.Trigger>
                          <Button size="1" color="red" variant="soft">
                            Revoke {key.displayName}
                          </Button>
                        </AlertDialog.Trigger>
                        <AlertDialog.Content maxWidth="28rem">
                          <AlertDialog.Title>Revoke {key.displayName}?</AlertDialog.Title>
                          <AlertDialog.Description>
                            Calls with this key fail from now on.
                          </AlertDialog.Description>
                          <Flex gap="2" mt="4" justify="end">
                            <AlertDialog.Cancel>
                              <Button variant="soft" color="gray">
                                Cancel
                              </Button>
                            </AlertDialog.Cancel>
                            <AlertDialog.Action>
                              <Button color="red" onClick={() => void revoke(key)}>
                                Revoke key
                              </Button>
                            </AlertDialog.Action>
                          </Flex>
                        </AlertDialog.Content>
                      </AlertDialog.Root>
                    )}
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

function CreateKeyCard({ onCreated }: { onCreated: () => void }) {
  const { client } = useSession();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<ApiKeyScope[]>([ApiKeyScope.READ]);
  const [instances, setInstances] = useState("");
  const [secret, setSecret] = useState<string>();
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<unknown>();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setFieldErrors({});
    setSecret(undefined);
    try {
      const answer = await client.apiKeys.createApiKey({
        apiKey: {
          displayName: name.trim(),
          scopes,
          instances: instances
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        },
      });
      setSecret(answer.key);
      setCopied(false);
      setName("");
      onCreated();
    } catch (err) {
      const errors: Record<string, string> = {};
      for (const v of asBerthError(err).fieldViolations) {
        const key = v.field.replace(/^api_key\./, "").replace(/\[\d+\]$/, "");
        errors[key] = errors[key] ? `${errors[key]}; ${v.description}` : v.description;
      }
      setFieldErrors(errors);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card mb="4" asChild>
      <section aria-labelledby="key-heading">
        <Heading as="h3" size="4" id="key-heading" mb="2">
          New API key
        </Heading>
        {secret && (
          <Callout.Root color="green" mb="3" role="status">
            <Callout.Text>
              This key is shown once; copy it now.
              <br />
              <Code data-testid="new-key" className="result">
                {secret}
              </Code>
            </Callout.Text>
            <Flex gap="2">
              <Button
                size="1"
                onClick={() =>
                  void navigator.clipboard.writeText(secret).then(() => setCopied(true))
                }
              >
                Copy key
              </Button>
              <Button size="1" variant="soft" onClick={() => setSecret(undefined)}>
                Done
              </Button>
              {copied && <Text size="2">Copied.</Text>}
            </Flex>
          </Callout.Root>
        )}
        <form onSubmit={submit} noValidate>
          <FormField id="key-name" label="Name" required error={fieldErrors.display_name}>
            <TextField.Root
              {...fieldAria("key-name", undefined, fieldErrors.display_name)}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </FormField>
          <fieldset aria-describedby={fieldErrors.scopes ? "key-scopes-error" : undefined}>
            <legend>
              <Text weight="bold" size="2">
                Scopes
              </Text>
            </legend>
            <Flex gap="4" wrap="wrap" mb="2">
              {SCOPES.map(({ scope, name: label, help }) => (
                <Text as="label" size="2" key={scope}>
                  <Flex gap="2" align="center">
                    <Checkbox
                      checked={scopes.includes(scope)}
                      onCheckedChange={(checked) =>
                        setScopes((all) =>
                          checked === true ? [...all, scope] : all.filter((s) => s !== scope),
                        )
                      }
                    />
                    {label} <Text color="gray">({help})</Text>
                  </Flex>
                </Text>
              ))}
            </Flex>
            {fieldErrors.scopes && (
              <Text as="p" id="key-scopes-error" color="red" size="2" role="alert">
                Scopes {fieldErrors.scopes}
              </Text>
            )}
          </fieldset>
          <FormField
            id="key-instances"
            label="Instances"
            description="Limit the mcp scope to these instances (names or ids, comma-separated); empty: all."
            error={fieldErrors.instances}
          >
            <TextField.Root
              {...fieldAria("key-instances", "x", fieldErrors.instances)}
              value={instances}
              onChange={(e) => setInstances(e.target.value)}
            />
          </FormField>
          <ErrorCallout error={error} />
          <Button type="submit" loading={busy}>
            Create key
          </Button>
        </form>
      </section>
    </Card>
  );
}
