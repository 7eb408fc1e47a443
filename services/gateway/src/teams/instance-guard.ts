import { invalidArgument } from "@berth/platform";
import {
  InstancesService,
  type McpServerInstance,
  type WatchInstancesResponse,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import type { DescMethod } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Principal } from "../auth/types.js";
import { accessRuleOf } from "./access-table.js";
import type { Action } from "./roles.js";
import { authorize, principalOf, teamForNew, teamsWhere } from "./team-access.js";

type AnyImpl = (request: never, ctx: HandlerContext) => unknown;
type Impl = Record<string, AnyImpl>;

/** Reads an instance by id or name (the instances service; NOT_FOUND when there is none). */
export type InstanceReader = (ref: string, ctx: HandlerContext) => Promise<McpServerInstance>;

function actionOf(method: DescMethod): Action {
  return accessRuleOf(method)?.action ?? "manage";
}

/**
 * The team part of the access table for the instances and runtime services, whose handlers the
 * gateway only forwards: a new instance is given the caller's team (or the one named, where the
 * caller may write), lists are narrowed to the caller's teams, and every method naming an
 * instance first reads it and checks its team (NOT_FOUND across teams, so names do not leak).
 */
export function guardInstances(forwarded: object, read: InstanceReader): object {
  const impl = forwarded as Impl;
  const call = (name: string) => impl[name] as (request: unknown, ctx: HandlerContext) => unknown;
  const { method } = InstancesService;
  const checked = (m: DescMethod, refOf: (request: never) => string) =>
    (async (request: never, ctx: HandlerContext) => {
      const ref = refOf(request);
      if (ref === "") throw invalidArgument([{ field: "id", description: "is required" }]);
      const instance = await read(ref, ctx);
      authorize(principalOf(ctx), instance.team, actionOf(m), "instance", ref);
      return call(m.localName)(request, ctx);
    }) as AnyImpl;
  const byId = (m: DescMethod) => checked(m, (r: { id: string }) => r.id);
  return {
    ...impl,
    async createInstance(request: { instance?: McpServerInstance }, ctx: HandlerContext) {
      if (request.instance) {
        request.instance.team = teamForNew(
          principalOf(ctx),
          request.instance.team,
          actionOf(method.createInstance),
        );
      }
      return call("createInstance")(request, ctx);
    },
    async getInstance(request: { id: string }, ctx: HandlerContext) {
      if (request.id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
      const instance = await read(request.id, ctx);
      authorize(principalOf(ctx), instance.team, "read", "instance", request.id);
      return { instance };
    },
    async listInstances(request: { teams: string[] }, ctx: HandlerContext) {
      const mine = teamsWhere(principalOf(ctx), actionOf(method.listInstances));
      const teams =
        request.teams.length === 0 ? mine : request.teams.filter((t) => mine.includes(t));
      // An empty filter would list every team's instances.
      if (teams.length === 0) return { instances: [], nextPageToken: "" };
      request.teams = teams;
      return call("listInstances")(request, ctx);
    },
    updateInstance: checked(method.updateInstance, (r: { instance?: McpServerInstance }) => {
      return r.instance?.id ?? "";
    }),
    deleteInstance: byId(method.deleteInstance),
    startInstance: byId(method.startInstance),
    stopInstance: byId(method.stopInstance),
    restartInstance: byId(method.restartInstance),
    setInstanceSecret: byId(method.setInstanceSecret),
    watchInstance: streamChecked(method.watchInstance, call, read),
    watchInstances: async function* (request: unknown, ctx: HandlerContext) {
      yield* watchOfTeams(
        principalOf(ctx),
        call("watchInstances")(request, ctx) as AsyncIterable<WatchInstancesResponse>,
      );
    },
  };
}

function streamChecked(
  m: DescMethod,
  call: (name: string) => (request: unknown, ctx: HandlerContext) => unknown,
  read: InstanceReader,
) {
  return async function* (request: { id: string }, ctx: HandlerContext) {
    if (request.id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
    const instance = await read(request.id, ctx);
    authorize(principalOf(ctx), instance.team, actionOf(m), "instance", request.id);
    yield* call(m.localName)(request, ctx) as AsyncIterable<unknown>;
  };
}

/**
 * Only the changes of instances in the caller's teams; a deletion of one shown before or of the
 * caller's teams (its notice names the team: a watcher opened after the instance's last change
 * still sees it go).
 */
async function* watchOfTeams(
  principal: Principal,
  changes: AsyncIterable<WatchInstancesResponse>,
): AsyncIterable<WatchInstancesResponse> {
  const teams = new Set(teamsWhere(principal, "read"));
  const shown = new Set<string>();
  for await (const change of changes) {
    const id = change.instance?.id ?? "";
    if (change.deleted) {
      if (shown.delete(id) || teams.has(change.instance?.team ?? "")) yield change;
    } else if (teams.has(change.instance?.team ?? "")) {
      shown.add(id);
      yield change;
    }
  }
}

/** The runtime's public methods name an instance by instance_id: its team decides. */
export function guardRuntime(forwarded: object, read: InstanceReader): object {
  const impl = forwarded as Impl;
  const { method } = RuntimeService;
  const check = async (m: DescMethod, ref: string, ctx: HandlerContext) => {
    if (ref === "") throw invalidArgument([{ field: "instance_id", description: "is required" }]);
    const instance = await read(ref, ctx);
    authorize(principalOf(ctx), instance.team, actionOf(m), "instance", ref);
  };
  const unary = (m: DescMethod) =>
    (async (request: { instanceId: string }, ctx: HandlerContext) => {
      await check(m, request.instanceId, ctx);
      return (impl[m.localName] as (r: unknown, c: HandlerContext) => unknown)(request, ctx);
    }) as AnyImpl;
  return {
    ...impl,
    getWorkload: unary(method.getWorkload),
    listInstanceTools: unary(method.listInstanceTools),
    streamLogs: async function* (request: { instanceId: string }, ctx: HandlerContext) {
      await check(method.streamLogs, request.instanceId, ctx);
      yield* (impl.streamLogs as (r: unknown, c: HandlerContext) => AsyncIterable<unknown>)(
        request,
        ctx,
      );
    },
  };
}
