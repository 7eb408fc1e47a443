import type { McpServer, McpServerInstance } from "@berth/sdk";
import { Box, Button, Card, Flex, Heading, Select, Text, TextField } from "@radix-ui/themes";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { envFields, envViolationField, splitEnvValues } from "../../src/forms/env-form";
import { asBerthError, useSession } from "../api";
import { EnvInput } from "../components/env-input";
import { ErrorCallout } from "../components/error-callout";
import { FormField, fieldAria } from "../components/form-field";

/**
 * Create an instance from a catalog entry, with a form generated from its env_schema. Every
 * field violation the server answers is shown at its field; the rest above the form.
 */
export function CreateInstanceForm(props: {
  onCreated: (instance: McpServerInstance) => void;
  onCancel: () => void;
  serverId?: string;
}) {
  const { client } = useSession();
  const [servers, setServers] = useState<McpServer[]>([]);
  const [serverId, setServerId] = useState(props.serverId ?? "");
  const [name, setName] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    client.registry
      .listServers({ pageSize: 100 })
      .then((answer) => setServers(answer.servers))
      .catch(setError);
  }, [client]);
  const server = servers.find((s) => s.id === serverId || s.name === serverId);
  const fields = useMemo(() => envFields(server?.envSchema ?? []), [server]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!server) return;
    setBusy(true);
    setError(undefined);
    setFieldErrors({});
    const { environment, secrets } = splitEnvValues(fields, values);
    try {
      const { instance } = await client.instances.createInstance({
        instance: {
          name: name.trim(),
          serverId: server.id,
          ...(Object.keys(environment).length > 0 ? { jsonSpec: { environment } } : {}),
        },
        secrets,
      });
      if (instance) props.onCreated(instance);
    } catch (err) {
      const berthError = asBerthError(err);
      const atFields: Record<string, string> = {};
      const elsewhere = berthError.fieldViolations.filter((violation) => {
        const variable = envViolationField(violation.field);
        const key =
          variable && fields.some((f) => f.name === variable)
            ? `env:${variable}`
            : violation.field === "instance.name"
              ? "name"
              : undefined;
        if (!key) return true;
        atFields[key] = atFields[key]
          ? `${atFields[key]}; ${violation.description}`
          : violation.description;
        return false;
      });
      setFieldErrors(atFields);
      // Said above the form too, so nothing is lost when no field shows it.
      if (elsewhere.length > 0 || Object.keys(atFields).length === 0) setError(err);
      else setError(`${Object.keys(atFields).length} field(s) need attention (see below).`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card mb="4" asChild>
      <section aria-labelledby="create-heading">
        <Heading as="h3" size="4" id="create-heading" mb="3">
          New instance
        </Heading>
        <form onSubmit={submit} noValidate>
          <FormField id="create-server" label="Catalog entry" required>
            <Select.Root
              value={server?.id}
              onValueChange={(id) => {
                setServerId(id);
                setValues({});
                setFieldErrors({});
              }}
            >
              <Select.Trigger id="create-server" placeholder="Choose a catalog entry…" />
              <Select.Content>
                {servers.map((s) => (
                  <Select.Item key={s.id} value={s.id}>
                    {s.name}
                  </Select.Item>
                ))}
              </Select.Content>
            </Select.Root>
          </FormField>
          <FormField
            id="create-name"
            label="Name"
            required
            description="Lowercase letters, digits and dashes; the MCP URL is /mcp/<name>."
            error={fieldErrors.name}
          >
            <TextField.Root
              {...fieldAria("create-name", "x", fieldErrors.name)}
              required
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </FormField>
          {server && fields.length === 0 && (
            <Text as="p" size="2" color="gray" mb="3">
              This entry needs no configuration.
            </Text>
          )}
          {server && fields.length > 0 && (
            <Box asChild mb="3">
              <fieldset>
                <legend>
                  <Text weight="bold">Configuration of {server.name}</Text>
                </legend>
                {fields.map((field) => (
                  <EnvInput
                    key={`${server.id}/${field.name}`}
                    idPrefix="env"
                    field={field}
                    value={values[field.name] ?? field.initial}
                    error={fieldErrors[`env:${field.name}`]}
                    onChange={(value) => setValues((v) => ({ ...v, [field.name]: value }))}
                  />
                ))}
              </fieldset>
            </Box>
          )}
          <ErrorCallout error={error} />
          <Flex gap="2">
            <Button type="submit" loading={busy} disabled={!server}>
              Create
            </Button>
            <Button type="button" variant="soft" color="gray" onClick={props.onCancel}>
              Cancel
            </Button>
          </Flex>
        </form>
      </section>
    </Card>
  );
}
