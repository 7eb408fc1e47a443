/** What the sign-in and consent page shows. */
export interface SignInView {
  /** The form's target (the interaction's own URL). */
  action: string;
  /** The client's name as it registered it (untrusted: escaped). */
  clientName: string;
  /**
   * For a client named by its metadata document's URL: that URL's host, the one part of its
   * identity the client cannot choose freely (its name it can).
   */
  clientHost?: string;
  /** The resources (MCP endpoints) the client asks for. */
  resources: readonly string[];
  scopes: readonly string[];
  /** Set when the user is signed in already and only consent is asked. */
  signedInAs?: string;
  username?: string;
  error?: string;
}

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/**
 * The embedded authorization server's one page: sign in (or, when signed in, consent) in plain
 * server-rendered HTML: labelled fields, the error announced to screen readers, works without
 * script, and names what the client is asking for before the user agrees.
 */
export function renderSignInPage(view: SignInView): string {
  const asked = view.resources.map((r) => `<li><code>${escapeHtml(r)}</code></li>`).join("");
  const scopes = view.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  const credentials = view.signedInAs
    ? `<p>Signed in as <strong>${escapeHtml(view.signedInAs)}</strong>.</p>`
    : `<p><label for="username">User name</label><br>
      <input id="username" name="username" autocomplete="username" required autofocus
        value="${escapeHtml(view.username ?? "")}"></p>
      <p><label for="password">Password</label><br>
      <input id="password" name="password" type="password" autocomplete="current-password" required></p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to Berth</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
  input { font: inherit; padding: .4rem; width: 100%; box-sizing: border-box; border: 1px solid #555; }
  button { font: inherit; padding: .4rem 1rem; margin-right: .5rem; }
  [role=alert] { color: #a00; font-weight: bold; }
  :focus-visible { outline: 3px solid #05c; outline-offset: 2px; }
</style>
</head>
<body>
<main>
<h1>Sign in to Berth</h1>
${view.error ? `<p role="alert">${escapeHtml(view.error)}</p>` : ""}
<p><strong>${escapeHtml(view.clientName)}</strong>${view.clientHost ? ` (from <strong>${escapeHtml(view.clientHost)}</strong>)` : ""} asks to act for you on:</p>
<ul>${asked}</ul>
${scopes ? `<p>with these permissions:</p><ul>${scopes}</ul>` : ""}
<form method="post" action="${escapeHtml(view.action)}">
${credentials}
<p><button type="submit" name="action" value="allow">${view.signedInAs ? "Allow" : "Sign in and allow"}</button>
<button type="submit" name="action" value="deny" formnovalidate>Deny</button></p>
</form>
</main>
</body>
</html>`;
}
