/** A sleep that can be cut short: wake() ends the current sleep, or the next one if none is running. */
export interface Waker {
  /** Sleeps up to ms; a wake() ends it early unless kickable is false (a forced wake always does). */
  sleep(ms: number, kickable?: boolean): Promise<void>;
  wake(force?: boolean): void;
  /** Ends the current sleep even if it is not kickable (once; unlike a forced wake it does not last). */
  interrupt(): void;
}

/** Creates a Waker (used by loops that poll but should react at once to a kick). */
export function createWaker(): Waker {
  let pending = false;
  let forced = false;
  let interrupted = false;
  let current: { done: () => void; kickable: boolean } | undefined;
  return {
    sleep(ms, kickable = true) {
      if (forced || interrupted || (pending && kickable) || ms <= 0) {
        pending = false;
        interrupted = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          current = undefined;
          pending = false;
          resolve();
        }
        current = { done, kickable };
      });
    },
    interrupt() {
      if (current) current.done();
      else interrupted = true;
    },
    wake(force = false) {
      if (force) forced = true;
      if (current && (current.kickable || force)) current.done();
      else pending = true;
    },
  };
}
