/** Quotes an SQL identifier (schema and table names come from code, but quoting costs nothing). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
