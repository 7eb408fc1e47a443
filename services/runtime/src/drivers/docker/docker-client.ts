import Docker from "dockerode";
import {
  EngineUnavailableError,
  isEngineUnavailable,
  isPermanentStartError,
  WorkloadStartError,
} from "../errors.js";

/** A dockerode client for DOCKER_HOST (unix:// or tcp://), or the local socket. */
export function createDockerClient(dockerHost: string | undefined): Docker {
  if (!dockerHost) return new Docker({ socketPath: "/var/run/docker.sock" });
  const url = new URL(dockerHost);
  if (url.protocol === "unix:") return new Docker({ socketPath: url.pathname });
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
}

/** The HTTP status of a dockerode error (404 for a missing object), if any. */
export function dockerStatus(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown }).statusCode;
  return typeof code === "number" ? code : undefined;
}

/** Runs a Docker call whose 404 (already gone) or 304 (already so) is success. */
export async function ignoreGone(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const status = dockerStatus(error);
    if (status !== 404 && status !== 304) throw error;
  }
}

/** Whether a dockerode error means the engine does not answer (socket missing, refused, denied). */
function engineUnreachable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "ECONNREFUSED" || code === "ENOENT" || code === "EACCES";
}

/**
 * The port's error for a dockerode failure: EngineUnavailableError when the engine does not
 * answer, else a WorkloadStartError with Docker's own message (never the request, so no values).
 */
export function toDriverError(error: unknown): Error {
  if (isEngineUnavailable(error) || isPermanentStartError(error)) return error as Error;
  if (engineUnreachable(error)) return new EngineUnavailableError("Docker", { cause: error });
  const json = (error as { json?: { message?: string } }).json;
  const message = json?.message ?? (error instanceof Error ? error.message : String(error));
  return new WorkloadStartError(message.slice(0, 500), { cause: error });
}

/** Runs a Docker call, raising the port's errors. */
export async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toDriverError(error);
  }
}
