const MEMORY = /^(\d+(?:\.\d+)?)(b|k|kb|ki|m|mb|mi|g|gb|gi)?$/i;
const UNIT: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  ki: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mi: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gi: 1024 ** 3,
};

/** Docker refuses containers with less memory than this. */
export const MIN_MEMORY_BYTES = 6 * 1024 ** 2;

/** Bytes of a memory quantity (`256m`, `1g`, `512Mi`, `1048576`), or undefined when malformed. */
export function parseMemory(text: string): number | undefined {
  const match = MEMORY.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNIT[(match[2] ?? "b").toLowerCase()]!;
  return Number.isFinite(bytes) ? Math.floor(bytes) : undefined;
}

/** CPUs of a cpu quantity (`0.5`, `2`), or undefined when malformed. */
export function parseCpu(text: string): number | undefined {
  const value = text.trim();
  if (!/^\d+(\.\d+)?$/.test(value)) return undefined;
  return Number(value);
}
