import { Callout } from "@radix-ui/themes";
import { asBerthError } from "../api";

/** A failed call (or a message), said once at the top of a form or page (field problems sit at their fields). */
export function ErrorCallout({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  if (typeof error === "string")
    return (
      <Callout.Root color="red" role="alert" my="2">
        <Callout.Text>{error}</Callout.Text>
      </Callout.Root>
    );
  const err = asBerthError(error);
  return (
    <Callout.Root color="red" role="alert" my="2">
      <Callout.Text>
        <strong>{err.code}</strong>: {err.message}
        {err.fieldViolations.length > 0 && (
          <> ({err.fieldViolations.map((v) => `${v.field} ${v.description}`).join("; ")})</>
        )}
      </Callout.Text>
    </Callout.Root>
  );
}
