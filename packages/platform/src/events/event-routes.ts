import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { routeFor } from "./subjects.js";
import { type ValidEvent, validateEvent } from "./validate-event.js";

/** What a handler learns about the event besides its payload. */
export interface EventContext {
  envelope: EventEnvelope;
  subject: string;
  redelivered: boolean;
  /**
   * Tells JetStream the handler is still at work, so the event is not handed to another consumer.
   * The platform does it every third of the ack deadline; a handler may call it more often.
   */
  working(): void;
}

/** The context of a durable consumer's handler: it runs inside the inbox's transaction. */
export interface InboxEventContext extends EventContext {
  /** The transaction the inbox row is claimed in: the handler's writes commit with it. */
  em: EntityManager;
  /** Runs fn once the transaction has committed (e.g. to notify watchers or kick a worker). */
  afterCommit(fn: () => void): void;
}

/** A typed handler of one event type. */
export type EventHandler<Desc extends DescMessage, Ctx> = (
  payload: MessageShape<Desc>,
  ctx: Ctx,
) => Promise<void> | void;

/** Where a consumer's handlers are registered, one per event type, in the style of ConnectRouter. */
export interface EventRoutes<Ctx> {
  on<Desc extends DescMessage>(schema: Desc, handler: EventHandler<Desc, Ctx>): EventRoutes<Ctx>;
}

/** One registered handler: validates the bytes for its type, then runs with a context. */
export interface BoundHandler<Ctx> {
  typeName: string;
  subject: string;
  stream: string;
  /** Decodes and validates (throws PoisonEventError), returning the call of the handler. */
  prepare(bytes: Uint8Array): { envelope: EventEnvelope; run(ctx: Ctx): Promise<void> };
}

/** Collects the handlers `register` declares, keyed by event type name; routes come from the table. */
export function collectRoutes<Ctx>(
  register: (routes: EventRoutes<Ctx>) => void,
): Map<string, BoundHandler<Ctx>> {
  const handlers = new Map<string, BoundHandler<Ctx>>();
  const routes: EventRoutes<Ctx> = {
    on(schema, handler) {
      if (handlers.has(schema.typeName)) {
        throw new Error(`a handler of ${schema.typeName} is already registered`);
      }
      const route = routeFor(schema.typeName);
      handlers.set(schema.typeName, {
        typeName: schema.typeName,
        subject: route.subject,
        stream: route.stream,
        prepare(bytes) {
          const event: ValidEvent<typeof schema> = validateEvent(bytes, schema);
          return {
            envelope: event.envelope,
            run: async (ctx) => handler(event.payload, ctx),
          };
        },
      });
      return routes;
    },
  };
  register(routes);
  if (handlers.size === 0) throw new Error("a consumer needs at least one event handler");
  return handlers;
}
