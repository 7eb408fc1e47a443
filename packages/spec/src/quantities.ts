/**
 * One memory grammar for every reader: a number of bytes, or a decimal number with a unit,
 * case-insensitive: b, k/kb/ki/kib, m/mb/mi/mib, g/gb/gi/gib, t/tb/ti/tib. Every unit is binary
 * (1k = 1024), as Docker reads them. A JSON number is a count of bytes.
 */
const MEMORY = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:ib|i|b)?|b)?$/i;
const UNIT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker refuses a container with less memory than this; no reader accepts less. */
export const MIN_MEMORY_BYTES = 6 * 1024 ** 2;
/** The default memory limit of a container. */
export const DEFAULT_MEMORY_BYTES = 512 * 1024 ** 2;
/** Most CPUs a spec may ask for. */
export const MAX_CPUS = 64;

/** Bytes of a memory quantity (`256m`, `1g`, `512Mi`, `1t`, `1048576`), or undefined. */
export function parseMemory(value: string | number): number | undefined {
  if (typeof value === "number")
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const match = MEMORY.exec(value.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * (match[2] ? UNIT[match[2].toLowerCase()]! : 1));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** CPUs of a cpu quantity (`0.5`, `2`, or a JSON number), or undefined when malformed. */
export function parseCpu(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}
