import type { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
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
import { watchInstance } from "./watch-handler.js";

/** The InstancesService implementation (public: the gateway forwards every method). */
export function createInstancesHandlers(
  deps: InstancesDeps,
): Partial<ServiceImpl<typeof InstancesService>> {
  return {
    createInstance: (request) => createInstance(deps, request),
    getInstance: async (request) => ({ instance: await getInstance(deps, request.id) }),
    listInstances: (request) => listInstances(deps, request),
    updateInstance: async (request) => ({ instance: await updateInstance(deps, request) }),
    deleteInstance: async (request) => ({ instance: await deleteInstance(deps, request.id) }),
    startInstance: async (request) => ({ instance: await startInstance(deps, request.id) }),
    stopInstance: async (request) => ({ instance: await stopInstance(deps, request.id) }),
    restartInstance: async (request) => ({ instance: await restartInstance(deps, request.id) }),
    setInstanceSecret: async (request) => ({ instance: await setInstanceSecret(deps, request) }),
    watchInstance: (request, ctx) => watchInstance(deps, request.id, ctx.signal),
  };
}
