import { medianOf } from "../support/stats.js";
import type { WakeResult } from "../wake/wake-leg.js";
import { num, ratio, table } from "./format.js";
import type { Section } from "./section.js";

/** The target: a wake-up costs at most 1.3× a cold `docker run` and its first answer. */
const TARGET = 1.3;

/** Section 7: wake-up from idle. */
export function wakeSection(result: WakeResult): Section {
  const total = medianOf(result.berth, (r) => r.totalMs);
  const runtime = medianOf(result.berth, (r) => r.runtimeMs);
  const floor = medianOf(result.floor, (r) => r.initializeMs);
  const findings =
    total / floor > TARGET
      ? [
          `A wake-up from IDLE answers its first MCP request in ${num(total, 0)} ms, ${ratio(total / floor)} the floor (docker run to initialize answered, ${num(floor, 0)} ms); the target is ${TARGET}×.`,
        ]
      : [];
  const markdown = [
    "## 7. Wake-up from idle",
    "",
    `Image \`${result.image}\`, one stdio instance with \`idle.timeout\` ${result.idleTimeoutSeconds} s, ${result.berth.length} wake-ups alternating with the floor, medians. Berth: the instance is IDLE (no container); an MCP initialize is POSTed to \`/mcp/{instance}\` at the gateway and timed until its answer is read. The runtime's part is McpServerInstanceIdleChanged.wake_millis (wake asked → the server answered the health probe, initialize and tools/list). Floor: \`docker run -i --rm\` of the same image with an MCP initialize written at once, until its answer.`,
    "",
    table(
      ["path", "median ms", "vs floor"],
      [
        ["floor: docker run → initialize answered", num(floor, 0), "1.00×"],
        ["Berth: runtime wake → probe answered", num(runtime, 0), ratio(runtime / floor)],
        ["**Berth: request sent → answer received**", num(total, 0), ratio(total / floor)],
      ],
    ),
    "",
    "Where a wake-up can lose to the floor: the runtime lists and removes leftovers, creates the hardened container and attaches before it starts (docker run does the same in one call), resolves the instance's secrets when it has any, and probes initialize and tools/list before the request goes on; the request then makes one more hop (gateway → bridge → stdin).",
  ].join("\n");
  return { markdown, findings };
}
