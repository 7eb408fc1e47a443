import { Box, Button, Container, Flex, Heading, Link, Separator } from "@radix-ui/themes";
import { useState } from "react";
import { type Session, SessionContext, storedSession, storeSession } from "./api";
import { PAGES } from "./pages/registry";
import { SignInPage } from "./pages/sign-in";
import { href, useRoute } from "./router";

export function App() {
  const [session, setSession] = useState<Session | undefined>(storedSession);
  const route = useRoute();
  const signIn = (next: Session | undefined) => {
    storeSession(next);
    setSession(next);
  };
  if (!session) return <SignInPage onSignIn={signIn} />;
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
          <Button variant="soft" color="gray" onClick={() => signIn(undefined)}>
            Sign out
          </Button>
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
