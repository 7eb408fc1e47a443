import { createIdempotentWrites } from "@berth/platform";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type {
  DescMessage,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { createInstance } from "./create-handler.js";
import type { InstancesDeps } from "./deps.js";
import {
  deleteInstance,
  restartInstance,
  startInstance,
  stopInstance,
} from "./lifecycle-handlers.js";
import { getInstance, listInstances } from "./read-handlers.js";
import { setInstanceSecret } from "./set-secret-handler.js";
import { updateInstance } from "./update-handlers.js";
import { watchInstance, watchInstances } from "./watch-handler.js";

/** The InstancesService implementation (public: the gateway forwards every method). */
export function createInstancesHandlers(
  deps: InstancesDeps,
): Partial<ServiceImpl<typeof InstancesService>> {
  const idempotent = createIdempotentHandlers(deps);
  const { method } = InstancesService;
  return {
    createInstance: (request) =>
      idempotent(method.createInstance, request, (d) => createInstance(d, request)),
    getInstance: async (request) => ({ instance: await getInstance(deps, request.id) }),
    listInstances: (request) => listInstances(deps, request),
    updateInstance: (request) =>
      idempotent(method.updateInstance, request, async (d) => ({
        instance: await updateInstance(d, request),
      })),
    deleteInstance: (request) =>
      idempotent(method.deleteInstance, request, async (d) => ({
        instance: await deleteInstance(d, request.id),
      })),
    startInstance: (request) =>
      idempotent(method.startInstance, request, async (d) => ({
        instance: await startInstance(d, request.id),
      })),
    stopInstance: (request) =>
      idempotent(method.stopInstance, request, async (d) => ({
        instance: await stopInstance(d, request.id),
      })),
    restartInstance: (request) =>
      idempotent(method.restartInstance, request, async (d) => ({
        instance: await restartInstance(d, request.id),
      })),
    setInstanceSecret: (request) =>
      idempotent(method.setInstanceSecret, request, async (d) => ({
        instance: await setInstanceSecret(d, request),
      })),
    watchInstance: (request, ctx) => watchInstance(deps, request.id, ctx.signal),
    watchInstances: (_request, ctx) => watchInstances(deps, ctx.signal),
  };
}

/**
 * Wraps the write handlers (AIP-155 request ids): with a request id, the handler runs inside the
 * transaction that records the id, and what it does after its own commit (waking the outbox
 * relay, telling watchers) waits until that outer transaction has committed; a retry answers the
 * recorded response and does nothing else. Without one, the handler runs as it is.
 */
function createIdempotentHandlers(deps: InstancesDeps) {
  // Create, update and SetSecret requests carry secret values: their fingerprints are keyed.
  const writes = createIdempotentWrites({
    orm: deps.orm,
    logger: deps.logger,
    fingerprintKey: deps.secrets.fingerprintKey,
  });
  return async <I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    handler: (deps: InstancesDeps) => Promise<MessageInitShape<O>>,
  ): Promise<MessageShape<O>> => {
    const afterCommit: (() => void)[] = [];
    const { response } = await writes.run({
      method,
      request,
      execute: (orm) => {
        if (orm === deps.orm) return handler(deps);
        return handler({
          ...deps,
          orm,
          joined: true,
          kickOutbox: () => afterCommit.push(() => deps.kickOutbox()),
        });
      },
    });
    for (const effect of afterCommit) effect();
    return response;
  };
}
