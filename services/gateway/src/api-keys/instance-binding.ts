import { Code, ConnectError } from "@berth/platform";
import type { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { Client } from "@connectrpc/connect";
import { fromUpstream } from "../upstream-error.js";

/**
 * The id of the instance an id or a name names, asked of the instances service; undefined when
 * there is none. The service being away is UNAVAILABLE (the key is not created half-checked).
 */
export async function instanceIdOf(
  instances: Client<typeof InstancesService>,
  ref: string,
): Promise<string | undefined> {
  try {
    const { instance } = await instances.getInstance({ id: ref });
    return instance?.id || undefined;
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
    throw fromUpstream(error, "instances", false);
  }
}

/** The id, name and team of the instance an id or a name names; undefined when there is none. */
export async function instanceNamed(
  instances: Client<typeof InstancesService>,
  ref: string,
): Promise<{ id: string; name: string; team: string } | undefined> {
  try {
    const { instance } = await instances.getInstance({ id: ref });
    return instance?.id ? { id: instance.id, name: instance.name, team: instance.team } : undefined;
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
    throw fromUpstream(error, "instances", false);
  }
}
