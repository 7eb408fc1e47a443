/** Resources a service opened, closed in reverse order on stop or on a failed start. */
export interface Closer {
  /** Remembers how to close something just opened. */
  add(name: string, close: () => Promise<void> | void): void;
  /** Closes everything, newest first; one failure does not keep the rest open. */
  closeAll(): Promise<void>;
}

/** Creates a Closer; onError hears about a resource that failed to close. */
export function createCloser(onError?: (name: string, error: unknown) => void): Closer {
  const stack: Array<{ name: string; close: () => Promise<void> | void }> = [];
  return {
    add(name, close) {
      stack.push({ name, close });
    },
    async closeAll() {
      for (let item = stack.pop(); item; item = stack.pop()) {
        try {
          await item.close();
        } catch (error) {
          onError?.(item.name, error);
        }
      }
    },
  };
}
