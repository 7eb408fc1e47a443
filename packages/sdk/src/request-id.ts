import type { DescMessage } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";

/** The proto name of the field that makes a write idempotent (AIP-155). */
const REQUEST_ID = "request_id";

/** A random UUID (v4) from the platform's Web Crypto (Node 19+, browsers in secure contexts). */
function newRequestId(): string {
  return globalThis.crypto.randomUUID();
}

/** The local (JSON) name of a message's request id field, if it has one. */
export function requestIdField(schema: DescMessage): string | undefined {
  return schema.fields.find((f) => f.name === REQUEST_ID)?.localName;
}

/**
 * Fills an empty `request_id` of every write that has one with a fresh UUID, before any retry:
 * every attempt of one call then carries the same id, so the service does the write once and
 * answers later attempts with its first result. A request id the caller set is kept as it is.
 */
export function requestIdInterceptor(generate: () => string = newRequestId): Interceptor {
  return (next) => (request) => {
    if (request.stream) return next(request);
    const field = requestIdField(request.method.input);
    const message = request.message as Record<string, unknown>;
    if (!field || message[field]) return next(request);
    return next({ ...request, message: { ...request.message, [field]: generate() } });
  };
}
