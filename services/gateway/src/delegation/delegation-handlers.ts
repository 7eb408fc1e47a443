import { invalidArgument } from "@berth/platform";
import type { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { fromHeaders } from "../auth/credential.js";
import type { Principal } from "../auth/types.js";
import type { DelegatedCredentials } from "./delegated-credentials.js";

/** What the DelegationService handlers need. */
export interface DelegationDeps {
  credentials: DelegatedCredentials;
  /** The caller, as the auth interceptor admitted them (a cached verification). */
  whoami(header: (name: string) => string | undefined): Promise<Principal>;
}

function requireInstance(instance: string): void {
  if (instance === "")
    throw invalidArgument([{ field: "instance", description: "is required (an id or a name)" }]);
}

/** The DelegationService implementation, served in-process by the gateway (mcp scope). */
export function createDelegationHandlers(
  deps: DelegationDeps,
): ServiceImpl<typeof DelegationService> {
  const caller = (header: Headers) => deps.whoami(fromHeaders(header));
  return {
    async connectInstance(request, context) {
      requireInstance(request.instance);
      const started = await deps.credentials.start(
        await caller(context.requestHeader),
        request.instance,
      );
      return {
        authorizationUrl: started.authorizationUrl,
        expireTime: timestampFromDate(started.expireTime),
      };
    },

    async getInstanceConnection(request, context) {
      requireInstance(request.instance);
      const status = await deps.credentials.status(
        await caller(context.requestHeader),
        request.instance,
      );
      return {
        connected: status.connected,
        scopes: status.scopes,
        issuer: status.issuer,
        delegationType: status.delegationType ?? "oauth",
        ...(status.expireTime ? { expireTime: timestampFromDate(status.expireTime) } : {}),
      };
    },

    async disconnectInstance(request, context) {
      requireInstance(request.instance);
      return {
        deleted: await deps.credentials.disconnect(
          await caller(context.requestHeader),
          request.instance,
        ),
      };
    },
  };
}
