/** What a leg produced, or why it did not. */
export type LegOutcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** Runs a leg; a failure is recorded (and reported) instead of ending the bench. */
export async function runLeg<T>(
  name: string,
  say: (line: string) => void,
  leg: () => Promise<T>,
): Promise<LegOutcome<T>> {
  say(name);
  try {
    return { ok: true, value: await leg() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(`  ${name} did not complete: ${message}`);
    return { ok: false, error: message };
  }
}
