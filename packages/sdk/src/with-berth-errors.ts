import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { toBerthError } from "./errors.js";

type AnyMethod = (...args: unknown[]) => unknown;

/**
 * The client with every failure, including one in the middle of a stream, thrown as BerthError.
 * (Connect re-wraps whatever an interceptor throws into a ConnectError, so this wraps the methods.)
 */
export function withBerthErrors<S extends DescService>(service: S, client: Client<S>): Client<S> {
  const methods = client as unknown as Record<string, AnyMethod>;
  const wrapped: Record<string, AnyMethod> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (!call) continue;
    wrapped[method.localName] =
      method.methodKind === "unary"
        ? (...args) =>
            (call(...args) as Promise<unknown>).catch((error: unknown) =>
              Promise.reject(toBerthError(error)),
            )
        : (...args) =>
            (async function* () {
              try {
                yield* call(...args) as AsyncIterable<unknown>;
              } catch (error) {
                throw toBerthError(error);
              }
            })();
  }
  return wrapped as unknown as Client<S>;
}
