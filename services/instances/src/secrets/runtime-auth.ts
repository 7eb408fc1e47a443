import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@berth/platform";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * A check of the runtime's service credential (`authorization: Bearer <token>`), compared in
 * constant time (digests have one length, so the token's length does not leak either).
 */
export function createRuntimeAuth(token: string): (authorization: string | null) => void {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer (.+)$/.exec(authorization ?? "");
    if (!match) {
      throw new ConnectError("a service credential is required", Code.Unauthenticated);
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      throw new ConnectError("the service credential is not accepted", Code.PermissionDenied);
    }
  };
}
