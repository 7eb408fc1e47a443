export { createOnePortServer, DEFAULT_LIMITS } from "./one-port-server.js";
export {
  InvalidPathError,
  matchPathTemplate,
  PathTemplateError,
  parsePathTemplate,
  splitRequestPath,
} from "./path-template.js";
export { DEFAULT_MAX_BODY_BYTES } from "./read-body.js";
export { RestHttpError, restErrorBody, writeRestError } from "./rest-errors.js";
export { createRestHandler } from "./rest-handler.js";
export { createRouteTable, RouteTableError } from "./routes.js";
export { createRpcHandler, type RpcHandler, type RpcHandlerOptions } from "./rpc-handler.js";
export { buildRequest, parseJsonBody, responseJson } from "./transcode.js";
export type {
  HttpRequest,
  HttpResponse,
  OnePortServer,
  OnePortServerOptions,
  PathTemplate,
  RestHandler,
  RestHandlerOptions,
  RestService,
  Route,
  RouteMatch,
  RouteTable,
  TemplateSegment,
  TemplateVariable,
} from "./types.js";
