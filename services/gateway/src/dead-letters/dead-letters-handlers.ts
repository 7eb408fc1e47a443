import {
  DeadLetterReplayError,
  failedPrecondition,
  invalidArgument,
  type Logger,
  listDeadLetters,
  notFound,
  requestDeadLetterReplay,
  unavailable,
} from "@berth/platform";
import type { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/nats-core";

/** What the dead-letter handlers need. */
export interface DeadLettersDeps {
  nc: NatsConnection;
  logger: Logger;
}

const SEQUENCE = /^[1-9][0-9]{0,15}$/;
// A service name is one subject token: no wildcard or separator may reach the filter.
const SERVICE = /^[a-z][a-z0-9-]{0,62}$/;

function sequence(field: string, value: string): number {
  if (!SEQUENCE.test(value)) {
    throw invalidArgument([
      { field, description: "must be a dead letter id (a positive integer)" },
    ]);
  }
  return Number(value);
}

// JetStream errors become UNAVAILABLE naming NATS: the caller may retry; the API never crashes.
async function viaNats<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw unavailable("the event store (NATS JetStream) is unavailable", error);
  }
}

/** The DeadLettersService implementation, served in-process by the gateway (admin scope only). */
export function createDeadLettersHandlers(
  deps: DeadLettersDeps,
): ServiceImpl<typeof DeadLettersService> {
  return {
    async listDeadLetters(request) {
      if (request.pageSize < 0) {
        throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      }
      const pageToken = request.pageToken ? String(sequence("page_token", request.pageToken)) : "";
      if (request.service && !SERVICE.test(request.service)) {
        throw invalidArgument([
          { field: "service", description: "must be a service name such as runtime" },
        ]);
      }
      const pageSize = Math.min(request.pageSize || 50, 500);
      return viaNats(() =>
        listDeadLetters(deps.nc, { pageSize, pageToken, service: request.service }),
      );
    },

    async replayDeadLetter(request) {
      if (request.id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
      const id = sequence("id", request.id);
      // The producer of the event replays it: the gateway may not publish other services' events.
      const replayed = await viaNats(async () => {
        try {
          return await requestDeadLetterReplay(deps.nc, id);
        } catch (error) {
          if (!(error instanceof DeadLetterReplayError)) throw error;
          if (error.unavailable) throw unavailable(error.message, error);
          throw failedPrecondition(error.message);
        }
      });
      if (!replayed) throw notFound("dead letter", request.id);
      deps.logger.info(
        { dead_letter: request.id, event_id: replayed.eventId, subject: replayed.subject },
        "dead letter replayed",
      );
      return { deadLetter: replayed };
    },
  };
}
