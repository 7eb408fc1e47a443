import {
  type DeadLetter,
  DeadLetterSchema,
  ListDeadLettersResponseSchema,
  paginate,
} from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup } from "../types.js";

/** `berth dead-letters …`: events a service's consumer refused, and sending them again (admin). */
export const deadLettersCommands: CommandGroup = {
  list: {
    usage: "[--service NAME]",
    summary: "List dead letters, oldest first, with the reason each event was refused",
    options: { service: { type: "string" } },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const deadLetters: DeadLetter[] = [];
      const list = ctx.berth.deadLetters.listDeadLetters;
      const request = { pageSize: 100, service: values.service ? String(values.service) : "" };
      for await (const letter of paginate(list, request, (r) => r.deadLetters)) {
        deadLetters.push(letter);
      }
      if (ctx.output === "json") {
        const response = create(ListDeadLettersResponseSchema, { deadLetters });
        return ctx.json(ListDeadLettersResponseSchema, response);
      }
      const columns = [
        { header: "ID" },
        { header: "CONSUMER" },
        { header: "SUBJECT" },
        { header: "EVENT" },
        { header: "REASON", max: 60 },
        { header: "SINCE" },
      ];
      const rows = deadLetters.map((d) => [
        d.id,
        `${d.service}/${d.consumer}`,
        d.subject,
        d.eventId,
        d.reason,
        formatTime(d.deadTime),
      ]);
      ctx.io.out(formatTable(columns, rows));
    },
  },
  replay: {
    usage: "<id>",
    summary: "Publish a dead letter again on its subject and remove it from the list",
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      const { deadLetter } = await ctx.berth.deadLetters.replayDeadLetter({ id: positionals[0]! });
      if (!deadLetter) return;
      if (ctx.output === "json") return ctx.json(DeadLetterSchema, deadLetter);
      ctx.io.out(
        formatFields([
          ["id", deadLetter.id],
          ["consumer", `${deadLetter.service}/${deadLetter.consumer}`],
          ["subject", deadLetter.subject],
          ["event", deadLetter.eventId],
          ["reason", deadLetter.reason],
        ]),
      );
      ctx.note(
        "Replayed: the consumer receives the event again (it is refused again if still invalid).",
      );
    },
  },
};
