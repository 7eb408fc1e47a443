import { Box, Text } from "@radix-ui/themes";
import type { ReactNode } from "react";

/**
 * A labelled input with its help text and its error, wired for assistive technology: the input
 * (rendered by `children` with the given id) is described by both.
 */
export function FormField(props: {
  id: string;
  label: string;
  required?: boolean;
  description?: string;
  error?: string | undefined;
  children: ReactNode;
}) {
  return (
    <Box mb="3">
      <Text as="label" htmlFor={props.id} size="2" weight="bold" style={{ display: "block" }}>
        {props.label}
        {props.required ? " (required)" : ""}
      </Text>
      {props.description && (
        <Text as="p" id={`${props.id}-help`} size="1" color="gray" mb="1">
          {props.description}
        </Text>
      )}
      {props.children}
      {props.error && (
        <Text as="p" id={`${props.id}-error`} size="2" color="red" role="alert" mt="1">
          {props.label} {props.error}
        </Text>
      )}
    </Box>
  );
}

/** The aria attributes of the input inside a FormField. */
export function fieldAria(id: string, description: string | undefined, error: string | undefined) {
  const describedBy = [description ? `${id}-help` : "", error ? `${id}-error` : ""]
    .filter(Boolean)
    .join(" ");
  return {
    id,
    "aria-invalid": error ? true : undefined,
    ...(describedBy ? { "aria-describedby": describedBy } : {}),
  } as const;
}
