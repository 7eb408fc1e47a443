/** A JSON-RPC id. */
export type RpcId = string | number;

/** Any JSON-RPC 2.0 message (request, notification or response), loosely typed. */
export interface RpcMessage {
  jsonrpc: "2.0";
  id?: RpcId;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Whether a message is a request (method and id). */
export const isRequest = (m: RpcMessage): boolean => m.method !== undefined && m.id !== undefined;

/** Whether a message is a notification (method, no id). */
export const isNotification = (m: RpcMessage): boolean =>
  m.method !== undefined && m.id === undefined;

/** Whether a message is a response (id, no method). */
export const isResponse = (m: RpcMessage): boolean => m.method === undefined && m.id !== undefined;

/** A key for an id that keeps 1 and "1" apart. */
export const idKey = (id: RpcId): string => `${typeof id}:${id}`;

/** A JSON-RPC error response. */
export function errorResponse(id: RpcId, code: number, message: string): RpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/** A JSON-RPC result response. */
export function resultResponse(id: RpcId, result: unknown): RpcMessage {
  return { jsonrpc: "2.0", id, result };
}

/** JSON-RPC error codes used by the bridge. */
export const RPC_ERRORS = { internal: -32603, serverGone: -32000, invalidRequest: -32600 } as const;
