import { Code, ConnectError } from "@berth/platform";
import { RestHttpError } from "./rest-errors.js";
import type { HttpRequest } from "./types.js";

/** Default largest request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a request body as UTF-8 text ("" when there is none). A body over `limit` is 413, found
 * from content-length before reading or while reading, without reading the rest; a non-empty body
 * that is not application/json is 415.
 */
export function readBody(req: HttpRequest, limit: number): Promise<string> {
  const length = Number(req.headers["content-length"] ?? Number.NaN);
  if (length > limit) return Promise.reject(tooLarge(limit));
  const isJson = isJsonContentType(req.headers["content-type"]);
  if (length > 0 && !isJson) return Promise.reject(unsupportedMediaType());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (error: Error) => {
      cleanup();
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) return stop(tooLarge(limit));
      if (!isJson) return stop(unsupportedMediaType());
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      try {
        resolve(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(new ConnectError("request body is not valid UTF-8", Code.InvalidArgument));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(
        new ConnectError("request body was cut short", Code.Canceled, undefined, undefined, error),
      );
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onError);
  });
}

/** application/json, with or without parameters such as charset. */
function isJsonContentType(value: string | undefined): boolean {
  return value?.split(";")[0]?.trim().toLowerCase() === "application/json";
}

function tooLarge(limit: number): RestHttpError {
  // The rest of the body is never read: close the connection instead of draining it.
  return new RestHttpError(413, Code.ResourceExhausted, `request body exceeds ${limit} bytes`, {
    connection: "close",
  });
}

function unsupportedMediaType(): RestHttpError {
  const message = "request body must be application/json";
  return new RestHttpError(415, Code.InvalidArgument, message, { connection: "close" });
}
