/** A number for a table: fixed digits, "–" when not a number. */
export function num(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A ratio as "1.23×". */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${num(value, 2)}×` : "–";
}

/** A markdown table. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Bytes in MiB. */
export function mib(bytes: number): string {
  return num(bytes / 1024 ** 2, 1);
}
