import { PassThrough, type Writable } from "node:stream";
import type Docker from "dockerode";
import { PermanentStartError, type StdioChannel } from "../types.js";
import { dockerStatus, ignoreGone } from "./docker-client.js";

// What the Docker and Swarm drivers do with one container of the local engine: inspect its
// image, attach to its stdio, wait for its end, remove it. Swarm tasks run in such containers.

/** The image's configuration; a missing image is permanent (Berth pulls nothing). */
export async function inspectImage(
  docker: Docker,
  image: string,
): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(image).inspect();
  } catch (error) {
    if (dockerStatus(error) === 404) {
      throw new PermanentStartError(
        `image ${image} is not present on the Docker engine (Berth pulls nothing: build or load it first)`,
      );
    }
    throw error;
  }
}

/** Removes a container (and its anonymous volumes), whatever its state; gone is fine. */
export function removeContainer(docker: Docker, id: string): Promise<void> {
  return ignoreGone(() => docker.getContainer(id).remove({ force: true, v: true }));
}

/**
 * Resolves with why the container ended; stays pending once signal aborts (runtime shutdown). A
 * wait that fails while the container still runs (a dropped engine connection) is made again, so
 * only a container that really stopped, or is gone, counts as ended.
 */
export async function containerExit(
  container: Docker.Container,
  signal: AbortSignal,
): Promise<string> {
  for (;;) {
    let code: number | undefined;
    try {
      const result = (await container.wait({ condition: "not-running", abortSignal: signal })) as {
        StatusCode: number;
      };
      code = result.StatusCode;
    } catch {
      if (signal.aborted) return new Promise<string>(() => {});
    }
    const state = await container.inspect().then(
      (info) => info.State,
      () => undefined,
    );
    if (signal.aborted) return new Promise<string>(() => {});
    if (state?.Running) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    if (!state)
      return code === undefined ? "container is gone" : `container exited with code ${code}`;
    if (state.OOMKilled) return "container was killed: out of memory";
    return `container exited with code ${code ?? state.ExitCode}`;
  }
}

/**
 * A stdin-only attachment through which one line (a secrets line, a guard's credential) reaches
 * the container; ending it closes the container's stdin when it was created with StdinOnce.
 */
export async function attachStdinOnly(
  container: Docker.Container,
  signal: AbortSignal,
): Promise<(line: string) => Promise<void>> {
  const stream = (await container.attach({
    stream: true,
    stdin: true,
    stdout: false,
    stderr: false,
    hijack: true,
    abortSignal: signal,
  })) as NodeJS.ReadWriteStream;
  stream.on("error", () => undefined); // the container may end first; its exit is reported
  return (line) =>
    new Promise<void>((resolve) => {
      stream.write(line, () => {
        stream.end();
        resolve();
      });
    });
}

/** Attaches to a container's stdin and stdout (stderr is left to its logs) for the bridge. */
export async function attachStdio(
  docker: Docker,
  container: Docker.Container,
  signal: AbortSignal,
): Promise<StdioChannel> {
  const stream = (await container.attach({
    stream: true,
    stdin: true,
    stdout: true,
    stderr: true,
    hijack: true,
    abortSignal: signal,
  })) as NodeJS.ReadWriteStream & { destroy(): void };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stderr.resume(); // stderr is in the container's logs; unread it would stall stdout
  docker.modem.demuxStream(stream, stdout, stderr);
  stream.on("end", () => stdout.end());
  stream.on("error", () => stdout.end());
  return {
    stdin: stream as unknown as Writable,
    stdout,
    close: () => stream.destroy(),
  };
}
