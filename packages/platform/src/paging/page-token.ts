import { createHash } from "node:crypto";
import { UUID_PATTERN } from "@berth/spec";
import { invalidArgument } from "../errors/errors.js";

/** The position after the last entry of a page: keyset (created_at, id) in list order. */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

const UUID = UUID_PATTERN;

/** A short digest of the list filters: a token only continues the listing it came from. */
export function filterDigest(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 12);
}

/** An opaque token for the page after `cursor` (base64url of JSON). */
export function encodePageToken(cursor: PageCursor, digest: string): string {
  const body = JSON.stringify({ t: cursor.createdAt.toISOString(), i: cursor.id, f: digest });
  return Buffer.from(body).toString("base64url");
}

/**
 * Reads a page token; anything not issued for these filters is INVALID_ARGUMENT on page_token.
 * Ids are UUIDs unless the listing's ids have another shape (idPattern).
 */
export function decodePageToken(token: string, digest: string, idPattern = UUID): PageCursor {
  const bad = (description: string) => invalidArgument([{ field: "page_token", description }]);
  let parsed: unknown;
  try {
    if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw new Error("not base64url");
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad("is not a page token of this listing");
  }
  const { t, i, f } = (parsed ?? {}) as Record<string, unknown>;
  const createdAt = typeof t === "string" ? new Date(t) : undefined;
  if (
    !createdAt ||
    Number.isNaN(createdAt.getTime()) ||
    typeof i !== "string" ||
    !idPattern.test(i)
  ) {
    throw bad("is not a page token of this listing");
  }
  if (f !== digest) throw bad("was issued for other filters; repeat the filters of the first page");
  return { createdAt, id: i };
}
