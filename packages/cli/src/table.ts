/** One column of a table: its header and the widest a cell may be (longer cells end in …). */
export interface Column {
  header: string;
  max?: number;
}

/** Shortens text to max characters, ending in … when cut; newlines become spaces. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, " ");
  if (max < 1 || flat.length <= max) return flat;
  return `${flat.slice(0, max - 1)}…`;
}

/**
 * Formats rows under fixed columns, each as wide as its widest cell (capped by the column's
 * max), two spaces apart, without trailing spaces. The header line comes first even when there
 * are no rows.
 */
export function formatTable(columns: Column[], rows: string[][]): string {
  const cells = rows.map((row) =>
    columns.map((column, i) => truncate(row[i] ?? "", column.max ?? 0)),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    ...cells.map((row) => line(row.map((cell) => cell || "-"))),
  ].join("\n");
}

/** Formats `label: value` lines with the values aligned; empty values are left out. */
export function formatFields(fields: Array<[string, string | undefined]>): string {
  const shown = fields.filter(([, value]) => value !== undefined && value !== "");
  const width = Math.max(0, ...shown.map(([label]) => label.length + 1));
  return shown
    .map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value!.replace(/\n/g, " ")}`)
    .join("\n");
}
