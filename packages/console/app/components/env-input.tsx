import { Checkbox, Flex, Select, TextField } from "@radix-ui/themes";
import type { EnvField } from "../../src/forms/env-form";
import { FormField, fieldAria } from "./form-field";

/** One generated input of the create form, by the variable's kind. */
export function EnvInput(props: {
  idPrefix: string;
  field: EnvField;
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
}) {
  const { field, value, error, onChange } = props;
  const id = `${props.idPrefix}-${field.name}`;
  const aria = fieldAria(id, field.description, error);
  const description = [
    field.description,
    field.secret ? "Secret: write-only, never shown again." : "",
  ]
    .filter(Boolean)
    .join(field.description.endsWith(".") ? " " : ". ");
  let input: React.ReactNode;
  if (field.kind === "select") {
    input = (
      <Select.Root value={value || undefined} onValueChange={onChange} required={field.required}>
        <Select.Trigger {...aria} placeholder="Choose…" />
        <Select.Content>
          {field.choices.map((choice) => (
            <Select.Item key={choice} value={choice}>
              {choice}
            </Select.Item>
          ))}
        </Select.Content>
      </Select.Root>
    );
  } else if (field.kind === "checkbox") {
    input = (
      <Flex>
        <Checkbox
          {...aria}
          checked={value === "true"}
          onCheckedChange={(checked) => onChange(checked === true ? "true" : "false")}
        />
      </Flex>
    );
  } else {
    input = (
      <TextField.Root
        {...aria}
        name={field.name}
        type={field.kind}
        required={field.required}
        autoComplete={field.secret ? "new-password" : "off"}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  return (
    <FormField
      id={id}
      label={field.label}
      required={field.required}
      description={description.trim()}
      error={error}
    >
      {input}
    </FormField>
  );
}
