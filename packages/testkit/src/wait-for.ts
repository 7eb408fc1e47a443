/** Resolves after ms milliseconds. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls fn until it returns something other than undefined and returns that; throws after
 * timeoutMs with what it was waiting for and the last error fn threw.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  const why = last instanceof Error ? `: ${last.message}` : last ? `: ${String(last)}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Polls until check() holds, for at most timeoutMs; returns whether it did (for expect). */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}
