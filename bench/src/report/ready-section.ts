import type { TimeToReadyResult } from "../ready/time-to-ready-leg.js";
import { medianOf } from "../support/stats.js";
import { num, ratio, table } from "./format.js";
import { FAR_LATENCY } from "./mcp-section.js";
import type { Section } from "./section.js";

/** Section 3: time to ready. */
export function readySection(result: TimeToReadyResult): Section {
  const m = (pick: (r: TimeToReadyResult["berth"][number]) => number) =>
    medianOf(result.berth, pick);
  const total = m((r) => r.totalMs);
  const floorTools = medianOf(result.floor, (r) => r.toolsMs);
  const floorInit = medianOf(result.floor, (r) => r.initializeMs);
  const findings =
    total / floorTools > FAR_LATENCY
      ? [
          `An stdio container is RUNNING ${num(total, 0)} ms after POST /v1/instances, ${ratio(total / floorTools)} the floor (docker run to tools/list answered, ${num(floorTools, 0)} ms).`,
        ]
      : [];
  const markdown = [
    "## 3. Time to ready",
    "",
    `Image \`${result.image}\`, ${result.berth.length} starts each way, alternating, medians. Berth: from sending POST /v1/instances (gateway) until WatchInstance (gateway, gRPC) shows RUNNING; the phases come from the events' occurred_at (NATS) on the same clock. Floor: \`docker run -i --rm\` of the same image with an MCP initialize written at once, then tools/list (Berth's health probe asks both before RUNNING).`,
    "",
    table(
      ["path", "median ms", "vs floor (tools/list)"],
      [
        [
          "floor: docker run → initialize answered",
          num(floorInit, 0),
          ratio(floorInit / floorTools),
        ],
        ["floor: docker run → tools/list answered", num(floorTools, 0), "1.00×"],
        [
          "Berth: POST → McpServerInstanceCreated stamped",
          num(
            m((r) => r.createdMs),
            0,
          ),
          "",
        ],
        [
          "Berth: POST → runtime reports STARTING",
          num(
            m((r) => r.startingMs),
            0,
          ),
          "",
        ],
        [
          "Berth: POST → runtime reports RUNNING",
          num(
            m((r) => r.runningMs),
            0,
          ),
          "",
        ],
        [
          "**Berth: POST → RUNNING seen by WatchInstance**",
          num(total, 0),
          ratio(total / floorTools),
        ],
      ],
    ),
  ].join("\n");
  return { markdown, findings };
}
