export * from "./engines.js";
export { BERTH_STREAM_PREFIX, deleteBerthStreams, useEngines } from "./use-engines.js";
