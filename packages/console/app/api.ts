import { type BerthClient, BerthError, createBerthClient, toBerthError } from "@berth/sdk";
import { createContext, useContext } from "react";

const KEY = "berth.apiKey";

/** No deadline for streams (watch, logs follow): the longest timer a browser keeps. */
export const STREAM_TIMEOUT_MS = 2_147_483_647;

/** The signed-in session: the API key lives in sessionStorage only (gone with the tab). */
export interface Session {
  readonly apiKey: string;
  readonly client: BerthClient;
}

export function sessionFor(apiKey: string): Session {
  return { apiKey, client: createBerthClient({ baseUrl: window.location.origin, apiKey }) };
}

export function storedSession(): Session | undefined {
  const key = window.sessionStorage.getItem(KEY);
  return key ? sessionFor(key) : undefined;
}

export function storeSession(session: Session | undefined): void {
  if (session) window.sessionStorage.setItem(KEY, session.apiKey);
  else window.sessionStorage.removeItem(KEY);
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The session of a signed-in page. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Any failure as a BerthError (the SDK's one error type). */
export function asBerthError(error: unknown): BerthError {
  return error instanceof BerthError ? error : toBerthError(error);
}

/** A one-line message for a failure: the status name and the server's message. */
export function describeError(error: unknown): string {
  const err = asBerthError(error);
  return `${err.code}: ${err.message}`;
}
