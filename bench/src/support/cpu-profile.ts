import { readFile } from "node:fs/promises";

/** One line of a profile summary: a function or an area, and its share of the busy samples. */
export interface ProfileLine {
  name: string;
  /** Share of the non-idle samples, 0..100. */
  percent: number;
}

/** What a V8 CPU profile says, reduced to what a report can show. */
export interface ProfileSummary {
  /** Wall time covered, ms. */
  durationMs: number;
  /** Share of samples in which the process was doing something, 0..100. */
  busyPercent: number;
  /** Functions by self time. */
  topFrames: ProfileLine[];
  /** Self time grouped by package or area (node internals, a dependency, Berth's own code). */
  areas: ProfileLine[];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const IDLE = new Set(["(idle)"]);

/** Reads a .cpuprofile file and summarizes its self time. */
export async function summarizeProfile(file: string, top = 12): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let total = 0;
  profile.samples.forEach((id, index) => {
    const weight = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0;
    total += weight;
    const frame = frames.get(id);
    if (!frame || IDLE.has(frame.functionName)) return;
    busy += weight;
    const key = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + weight);
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + weight);
  });
  const lines = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, weight]) => ({ name, percent: busy > 0 ? (100 * weight) / busy : 0 }));
  return {
    durationMs: (profile.endTime - profile.startTime) / 1000,
    busyPercent: total > 0 ? (100 * busy) / total : 0,
    topFrames: lines(self),
    areas: lines(areas),
  };
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length);
  const berth = /\/(services|packages)\/(.*)$/.exec(url);
  if (berth) return `${berth[1]}/${berth[2]}`;
  return url.replace(/^file:\/\//, "");
}

/** The package or area a frame belongs to. */
function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const berth = /\/(services|packages)\/([^/]+)\//.exec(url);
  if (berth) return `berth ${berth[1]}/${berth[2]}`;
  return "other";
}
