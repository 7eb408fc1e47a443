import { Box, Button, Container, Flex, Heading, Link, Separator, Text } from "@radix-ui/themes";
import { useCallback, useEffect, useState } from "react";
import {
  describeError,
  type Session,
  SessionContext,
  storeApiKey,
  storedSession,
  userSession,
} from "./api";
import { PAGES } from "./pages/registry";
import { SignInPage } from "./pages/sign-in";
import { href, useRoute } from "./router";
import { describeSignInError, finishUserSignIn, storeUserTokens } from "./user-sign-in";

/** Whether this load is the redirect back from the sign-in page. */
const returning = () => /[?&](code|error)=/.test(window.location.search);

export function App() {
  const [problem, setProblem] = useState<string>();
  // A user whose tokens cannot be refreshed any more is sent back to the sign-in page.
  const expired = useCallback((why: string) => {
    storeUserTokens(undefined);
    setSession(undefined);
    setProblem(`Your sign-in ended (${why}): sign in again.`);
  }, []);
  const [session, setSession] = useState<Session | undefined>(() =>
    returning() ? undefined : storedSession(expired),
  );
  const [finishing, setFinishing] = useState(returning);
  const route = useRoute();

  // Back from the embedded server's sign-in page: trade the code for tokens, then check them
  // with one read call (a user without read is told so here, not on every page).
  useEffect(() => {
    if (!returning()) return;
    finishUserSignIn()
      .then(async (tokens) => {
        if (!tokens) return;
        const next = userSession(tokens, expired);
        try {
          await next.client.instances.listInstances({ pageSize: 1 });
          setSession(next);
        } catch (err) {
          storeUserTokens(undefined);
          setProblem(describeError(err));
        }
      })
      .catch((err: unknown) => setProblem(describeSignInError(err)))
      .finally(() => setFinishing(false));
  }, [expired]);

  const signOut = () => {
    void session?.signOut();
    setSession(undefined);
    setProblem(undefined);
  };
  if (finishing)
    return (
      <Text as="p" role="status" m="4">
        Signing in…
      </Text>
    );
  if (!session)
    return (
      <SignInPage
        problem={problem}
        onSignIn={(next, apiKey) => {
          storeApiKey(apiKey);
          setSession(next);
        }}
      />
    );
  const page = PAGES.find((p) => p.id === route.page) ?? PAGES[0]!;
  return (
    <SessionContext.Provider value={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Flex align="center" justify="between" wrap="wrap" gap="3" px="4" py="2">
          <Heading as="h1" size="4">
            Berth
          </Heading>
          <nav aria-label="Console">
            <Flex gap="4" wrap="wrap" asChild>
              <ul className="nav">
                {PAGES.map((p) => (
                  <li key={p.id}>
                    <Link
                      href={href(p.id)}
                      weight={p === page ? "bold" : "regular"}
                      aria-current={p === page ? "page" : undefined}
                    >
                      {p.title}
                    </Link>
                  </li>
                ))}
                <li>
                  <Link href="/docs">API reference</Link>
                </li>
              </ul>
            </Flex>
          </nav>
          <Flex align="center" gap="3">
            <Text size="2" color="gray" data-testid="signed-in-as">
              Signed in {session.signedIn}
            </Text>
            <Button variant="soft" color="gray" onClick={signOut}>
              Sign out
            </Button>
          </Flex>
        </Flex>
        <Separator size="4" />
      </header>
      <Container size="4" px="3" py="4" asChild>
        <main id="main" tabIndex={-1}>
          <Box key={`${page.id}/${route.params.join("/")}`}>{page.render(route)}</Box>
        </main>
      </Container>
    </SessionContext.Provider>
  );
}
