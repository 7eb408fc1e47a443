export { DEFAULT_URL, runCli } from "./cli.js";
export { type Column, formatFields, formatTable, truncate } from "./table.js";
export type { CliIo, Command, CommandGroup, Context, OutputFormat } from "./types.js";
