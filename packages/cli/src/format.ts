import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

/** The name of an enum value without its prefix (RUNNING), or "-" for the unset zero value. */
export function enumName(values: Record<number, string>, value: number): string {
  return value === 0 ? "-" : (values[value] ?? String(value));
}

/** A timestamp as ISO 8601 to the second (UTC), or "" when unset. */
export function formatTime(timestamp: Timestamp | undefined): string {
  if (!timestamp) return "";
  return `${timestampDate(timestamp).toISOString().slice(0, 19)}Z`;
}

/** The time of day now, for progress lines. */
export function clock(now = new Date()): string {
  return now.toTimeString().slice(0, 8);
}
