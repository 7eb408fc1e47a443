import {
  Button,
  Callout,
  Card,
  Checkbox,
  Flex,
  Heading,
  Select,
  Text,
  TextArea,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, useMemo, useState } from "react";
import { type ToolField, toolArguments, toolFields } from "../../src/forms/tool-form";
import { useSession } from "../api";
import { FormField, fieldAria } from "../components/form-field";
import { type McpSession, useMcpSession } from "../mcp";

/** Calls one of an instance's tools through the MCP proxy with a form from its input schema. */
export function TryToolPanel({ instanceName }: { instanceName: string }) {
  const { bearer } = useSession();
  const session = useMcpSession({ kind: "instance", name: instanceName }, bearer);
  return <TryToolCard session={session} />;
}

/**
 * Calls one of a session's tools (an instance's or a virtual server's) with a form generated
 * from the tool's input schema, and shows the result.
 */
export function TryToolCard({ session }: { session: McpSession }) {
  const { client } = session;
  const tools = session.tools ?? [];
  const [toolName, setToolName] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ text: string; isError: boolean }>();
  const [callProblem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const problem = callProblem ?? session.problem;

  const tool = tools.find((t) => t.name === toolName);
  const fields = useMemo(() => toolFields(tool?.inputSchema), [tool]);

  const call = async (event: FormEvent) => {
    event.preventDefault();
    if (!client || !tool) return;
    const built = toolArguments(fields, values);
    setErrors(built.errors);
    if (Object.keys(built.errors).length > 0) return;
    setBusy(true);
    setResult(undefined);
    setProblem(undefined);
    try {
      const answer = await client.callTool({ name: tool.name, arguments: built.arguments });
      const content = Array.isArray(answer.content) ? answer.content : [];
      const text = content
        .map((part: { type: string; text?: string }) =>
          part.type === "text" ? (part.text ?? "") : JSON.stringify(part),
        )
        .join("\n");
      setResult({
        text: text || JSON.stringify(answer, null, 2),
        isError: answer.isError === true,
      });
    } catch (err) {
      setProblem(String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card mt="4" asChild>
      <section aria-labelledby="try-heading">
        <Heading as="h3" size="4" id="try-heading" mb="2">
          Try a tool
        </Heading>
        <Text as="p" size="2" color="gray" mb="3">
          Calls go through the gateway's MCP proxy with your API key.
        </Text>
        <form onSubmit={call} noValidate>
          <FormField id="try-tool" label="Tool">
            <Select.Root
              value={toolName || undefined}
              onValueChange={(name) => {
                setToolName(name);
                setValues({});
                setErrors({});
                setResult(undefined);
              }}
              disabled={tools.length === 0}
            >
              <Select.Trigger
                id="try-tool"
                placeholder={client ? "Choose a tool…" : "Connecting…"}
              />
              <Select.Content>
                {tools.map((t) => (
                  <Select.Item key={t.name} value={t.name}>
                    {t.name}
                  </Select.Item>
                ))}
              </Select.Content>
            </Select.Root>
          </FormField>
          {tool?.description && (
            <Text as="p" size="2" mb="3">
              {tool.description}
            </Text>
          )}
          {fields.map((field) => (
            <ToolInput
              key={`${tool?.name}/${field.name}`}
              field={field}
              value={values[field.name] ?? field.initial}
              error={errors[field.name]}
              onChange={(value) => setValues((v) => ({ ...v, [field.name]: value }))}
            />
          ))}
          <Button type="submit" disabled={!tool} loading={busy}>
            Call tool
          </Button>
        </form>
        {problem && (
          <Callout.Root color="red" role="alert" mt="3">
            <Callout.Text>{problem}</Callout.Text>
          </Callout.Root>
        )}
        {result && (
          <Card mt="3" aria-live="polite">
            <Text as="p" weight="bold" color={result.isError ? "red" : undefined}>
              {result.isError ? "The tool reported an error" : "Result"}
            </Text>
            <pre className="result" data-testid="tool-result">
              {result.text}
            </pre>
          </Card>
        )}
      </section>
    </Card>
  );
}

function ToolInput(props: {
  field: ToolField;
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
}) {
  const { field, value, error, onChange } = props;
  const id = `arg-${field.name}`;
  const aria = fieldAria(id, field.description, error);
  let input: React.ReactNode;
  if (field.kind === "checkbox")
    input = (
      <Flex>
        <Checkbox
          {...aria}
          checked={value === "true"}
          onCheckedChange={(c) => onChange(c === true ? "true" : "false")}
        />
      </Flex>
    );
  else if (field.kind === "select")
    input = (
      <Select.Root value={value || undefined} onValueChange={onChange}>
        <Select.Trigger {...aria} />
        <Select.Content>
          {field.choices.map((choice) => (
            <Select.Item key={choice} value={choice}>
              {choice}
            </Select.Item>
          ))}
        </Select.Content>
      </Select.Root>
    );
  else if (field.kind === "json")
    input = <TextArea {...aria} value={value} onChange={(e) => onChange(e.target.value)} />;
  else
    input = (
      <TextField.Root
        {...aria}
        type={field.kind === "text" ? "text" : "number"}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  return (
    <FormField
      id={id}
      label={field.name}
      required={field.required}
      description={field.description}
      error={error}
    >
      {input}
    </FormField>
  );
}
