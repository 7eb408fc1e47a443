import Docker from "dockerode";

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
