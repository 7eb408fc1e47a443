import {
  Box,
  Button,
  Card,
  Container,
  Flex,
  Heading,
  RadioGroup,
  Separator,
  Text,
  TextField,
} from "@radix-ui/themes";
import { type FormEvent, useEffect, useState } from "react";
import { describeError, keySession, type Session } from "../api";
import { FormField, fieldAria } from "../components/form-field";
import { describeSignInError, findIssuer, startUserSignIn } from "../user-sign-in";

/**
 * What a user's token may do, asked for at sign-in: the embedded server refuses scopes the user
 * was not given, so the choice is the user's (as with `berth login --scope`).
 */
const ACCESS = [
  { scope: "write mcp", label: "Change things and call tools (write, mcp)" },
  { scope: "read mcp", label: "Look and call tools (read, mcp)" },
  { scope: "read", label: "Look only (read)" },
  { scope: "admin", label: "Everything, with API keys and the audit trail (admin)" },
];

/**
 * Sign in with an API key (checked by one read call before the console opens), or as a user of
 * the gateway's embedded authorization server (the browser goes to its sign-in page and back).
 */
export function SignInPage({
  onSignIn,
  problem,
}: {
  onSignIn: (session: Session, apiKey: string) => void;
  /** Why the last user sign-in failed or ended (shown at the user's section). */
  problem?: string | undefined;
}) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const session = keySession(key.trim());
    try {
      await session.client.instances.listInstances({ pageSize: 1 });
      onSignIn(session, key.trim());
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
            Your credential is kept in this tab only (session storage) and sent as a bearer token.
          </Text>
          <section aria-labelledby="key-heading">
            <Heading as="h2" size="4" mb="2" id="key-heading">
              With an API key
            </Heading>
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
          </section>
          <Separator size="4" my="5" />
          <UserSignIn problem={problem} />
        </Card>
      </main>
    </Container>
  );
}

/** "Sign in as a user": the access to ask for, then off to the embedded server's page. */
function UserSignIn({ problem }: { problem?: string | undefined }) {
  const [issuer, setIssuer] = useState<{ issuer: string } | { unavailable: string }>();
  const [scope, setScope] = useState(ACCESS[0]!.scope);
  const [error, setError] = useState<string | undefined>(problem);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    findIssuer()
      .then(setIssuer)
      .catch((err: unknown) => setIssuer({ unavailable: describeSignInError(err) }));
  }, []);
  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (!issuer || !("issuer" in issuer)) return;
    setBusy(true);
    setError(undefined);
    try {
      await startUserSignIn(issuer.issuer, scope);
    } catch (err) {
      setError(describeSignInError(err));
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="user-heading">
      <Heading as="h2" size="4" mb="2" id="user-heading">
        As a user
      </Heading>
      {issuer && "unavailable" in issuer ? (
        <Text as="p" color="gray">
          Signing in as a user is not offered here: {issuer.unavailable}.
        </Text>
      ) : (
        <form onSubmit={start} aria-describedby={error ? "user-access-error" : undefined}>
          <Box mb="3">
            <Text as="p" size="2" weight="bold" id="user-access-label" mb="1">
              Access
            </Text>
            <RadioGroup.Root
              value={scope}
              onValueChange={setScope}
              aria-labelledby="user-access-label"
              aria-describedby={error ? "user-access-error" : undefined}
            >
              {ACCESS.map((a) => (
                <RadioGroup.Item key={a.scope} value={a.scope}>
                  {a.label}
                </RadioGroup.Item>
              ))}
            </RadioGroup.Root>
            {error && (
              <Text as="p" id="user-access-error" size="2" color="red" role="alert" mt="1">
                {error}
              </Text>
            )}
          </Box>
          <Flex gap="2">
            <Button type="submit" variant="soft" loading={busy} disabled={!issuer}>
              Sign in as a user
            </Button>
          </Flex>
        </form>
      )}
    </section>
  );
}
