import type { RetryOptions } from "@berth/sdk";
import { UsageError } from "./args.js";

/** Retries after the first attempt unless --retries or BERTH_RETRIES says otherwise. */
export const DEFAULT_RETRIES = 3;

/**
 * The SDK's retry options from --retries N (or BERTH_RETRIES): N more attempts after the first
 * for calls answered UNAVAILABLE, 0 for none. Writes stay safe to repeat: the SDK gives each a
 * request id, which the services answer from the first attempt's result.
 */
export function retryOptions(given: string | undefined): RetryOptions | false {
  if (given === undefined || given === "") return { maxAttempts: DEFAULT_RETRIES + 1 };
  if (!/^\d+$/.test(given) || Number(given) > 10) {
    throw new UsageError("--retries (or BERTH_RETRIES) must be a whole number from 0 to 10");
  }
  const retries = Number(given);
  return retries === 0 ? false : { maxAttempts: retries + 1 };
}
