import { type BerthClient, BerthError, createBerthClient, toBerthError } from "@berth/sdk";
import { createContext, useContext } from "react";
import {
  createTokenSource,
  signOutUser,
  storedUserTokens,
  storeUserTokens,
  type UserTokens,
} from "./user-sign-in";

const KEY = "berth.apiKey";

/** No deadline for streams (watch, logs follow): the longest timer a browser keeps. */
export const STREAM_TIMEOUT_MS = 2_147_483_647;

/**
 * The signed-in session: an API key, or a user's OAuth tokens. Either lives in this tab's
 * sessionStorage only (gone with the tab) and goes to the gateway as a bearer token, on the API
 * and on the MCP proxy alike.
 */
export interface Session {
  /** How the header names the credential: "with an API key", "as alice". */
  readonly signedIn: string;
  readonly client: BerthClient;
  /** The bearer credential for the next call (a user's access token is refreshed as needed). */
  bearer(): Promise<string>;
  /** Forgets the credential (and revokes a user's refresh token). */
  signOut(): Promise<void>;
}

export function keySession(apiKey: string): Session {
  return {
    signedIn: "with an API key",
    client: createBerthClient({ baseUrl: window.location.origin, apiKey }),
    bearer: async () => apiKey,
    async signOut() {
      window.sessionStorage.removeItem(KEY);
    },
  };
}

/** A user's session; `onExpired` is told when the tokens can no longer be refreshed. */
export function userSession(tokens: UserTokens, onExpired: (why: string) => void): Session {
  const bearer = createTokenSource(tokens, onExpired);
  return {
    signedIn: `as ${tokens.username || "a user"}`,
    client: createBerthClient({ baseUrl: window.location.origin, accessToken: bearer }),
    bearer,
    signOut: () => signOutUser(tokens),
  };
}

/** The session this tab signed in with, if any. */
export function storedSession(onExpired: (why: string) => void): Session | undefined {
  const tokens = storedUserTokens();
  if (tokens) return userSession(tokens, onExpired);
  const key = window.sessionStorage.getItem(KEY);
  return key ? keySession(key) : undefined;
}

/** Keeps an API key for this tab (a user's tokens are kept as they are issued). */
export function storeApiKey(apiKey: string): void {
  storeUserTokens(undefined);
  window.sessionStorage.setItem(KEY, apiKey);
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
