import { StartupError } from "../service/startup-error.js";

/** Where a database URL points: what may be shown in a log line or an error (never the password). */
export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
}

/** Parses a postgres URL, or throws a one-line StartupError that never echoes the URL. */
export function parseDatabaseUrl(url: string, variable = "DATABASE_URL"): DatabaseTarget {
  const expected = "expected postgres://user:password@host:port/database";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StartupError(`${variable}: not a valid URL (${expected})`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    // The scheme is safe to name: it sits before any credential.
    throw new StartupError(
      `${variable}: unsupported scheme "${parsed.protocol.replace(/:$/, "")}" (${expected})`,
    );
  }
  if (!parsed.hostname) throw new StartupError(`${variable}: no host (${expected})`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (!database) throw new StartupError(`${variable}: no database name (${expected})`);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : 5432, database };
}

/** Renders a target as host:port/database for messages. */
export function describeTarget(target: DatabaseTarget): string {
  return `${target.host}:${target.port}/${target.database}`;
}

/** A short, password-free reason for a failed connection: an errno or SQLSTATE code, or a first line. */
export function connectionProblem(error: unknown, password?: string): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
  let problem: string;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) problem = code;
  else if (typeof code === "string") problem = `${message}, SQLSTATE ${code}`;
  else if (/timeout/i.test(message)) problem = "timed out";
  else problem = message || "unknown error";
  // Belt and braces: a driver message must never carry the password into a log line.
  return password ? problem.split(password).join("[redacted]") : problem;
}

/** The password of a URL, if any, so that messages can be scrubbed of it. */
export function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password.length > 0 ? password : undefined;
  } catch {
    return undefined;
  }
}
