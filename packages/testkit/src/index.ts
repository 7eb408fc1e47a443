export * from "./engines.js";
export {
  BERTH_STREAM_PREFIX,
  connectAs,
  deleteBerthStreams,
  useEngines,
  withoutCredentials,
} from "./use-engines.js";
