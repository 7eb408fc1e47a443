import { Box, Button, Card, Container, Heading, Text, TextField } from "@radix-ui/themes";
import { type FormEvent, useState } from "react";
import { describeError, type Session, sessionFor } from "../api";
import { FormField, fieldAria } from "../components/form-field";

/** Sign in with an API key: checked by one read call before the console opens. */
export function SignInPage({ onSignIn }: { onSignIn: (session: Session) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const session = sessionFor(key.trim());
    try {
      await session.client.instances.listInstances({ pageSize: 1 });
      onSignIn(session);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Container size="1" px="3" py="9" asChild>
      <main id="main">
        <Card size="3">
          <Heading as="h1" size="6" mb="2">
            Berth console
          </Heading>
          <Text as="p" color="gray" mb="4">
            Sign in with an API key. It is kept in this tab only (session storage) and sent as a
            bearer token.
          </Text>
          <form onSubmit={submit}>
            <FormField id="api-key" label="API key" error={error}>
              <TextField.Root
                {...fieldAria("api-key", undefined, error)}
                type="password"
                autoComplete="off"
                required
                value={key}
                onChange={(e) => setKey(e.target.value)}
                placeholder="berth_…"
              />
            </FormField>
            <Box>
              <Button type="submit" loading={busy} disabled={key.trim() === ""}>
                Sign in
              </Button>
            </Box>
          </form>
        </Card>
      </main>
    </Container>
  );
}
