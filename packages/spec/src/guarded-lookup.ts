import dns, { type LookupAddress, type LookupOptions } from "node:dns";
import {
  type AddressPolicy,
  classifyAddress,
  classifyHost,
  classProblem,
} from "./address-policy.js";

/** A connection refused because the name resolved to an address the policy forbids. */
export class ForbiddenAddressError extends Error {
  override readonly name = "ForbiddenAddressError";
  /** Like a dns error code, so socket code that logs `code` says what happened. */
  readonly code = "ERR_BERTH_FORBIDDEN_ADDRESS";
  constructor(
    readonly hostname: string,
    readonly address: string,
    reason: string,
  ) {
    super(`${hostname} resolves to ${address}, ${reason}`);
  }
}

/** Whether an error is a ForbiddenAddressError (also across copies of this module). */
export function isForbiddenAddressError(error: unknown): error is ForbiddenAddressError {
  return (error as { code?: unknown } | null)?.code === "ERR_BERTH_FORBIDDEN_ADDRESS";
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** The shape of `dns.lookup` with options, as net.connect, tls.connect and undici call it. */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
) => void;

/** Every address a name resolves to (dns.lookup, all: true). */
function lookupAll(lookup: LookupFunction, hostname: string, options: LookupOptions) {
  return new Promise<LookupAddress[]>((resolve, reject) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses as LookupAddress[]),
    );
  });
}

/** The first address the policy forbids among several, with the reason. */
function firstForbidden(addresses: LookupAddress[], policy: AddressPolicy) {
  for (const { address } of addresses) {
    const reason = classProblem(classifyAddress(address), policy);
    if (reason) return { address, reason };
  }
  return undefined;
}

/**
 * A `dns.lookup` that resolves every address of a name and fails with ForbiddenAddressError when
 * any of them is forbidden: give it to the socket that dials (`net.connect({ lookup })`,
 * `http.Agent`/`https.Agent` options, undici `new Agent({ connect: { lookup } })`), so the
 * address checked is the address dialled and a DNS answer that changes after validation
 * (rebinding) is caught. Answers in the form the caller asked for (`all` or one address).
 */
export function createGuardedLookup(
  policy: AddressPolicy,
  lookup: LookupFunction = dns.lookup as unknown as LookupFunction,
): LookupFunction {
  return (hostname, options, callback) => {
    const opts: LookupOptions = typeof options === "object" && options ? options : {};
    lookupAll(lookup, hostname, opts).then(
      (addresses) => {
        const forbidden = firstForbidden(addresses, policy);
        if (forbidden) {
          callback(new ForbiddenAddressError(hostname, forbidden.address, forbidden.reason), []);
        } else if (opts.all) callback(null, addresses);
        else if (addresses.length === 0) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
          error.code = "ENOTFOUND";
          callback(error, []);
        } else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

/** How long validation waits for a name to resolve before leaving it to the connect-time check. */
const RESOLVE_TIMEOUT_MS = 3_000;

/**
 * Why a url endpoint is refused under the policy, or undefined. IP literals and well-known names
 * are judged as written; other names are resolved and every address is checked. A name that
 * does not resolve now (or not within 3 s) is accepted: the guarded lookup checks it again
 * when it is dialled, so a name that later points inside is still refused.
 */
export async function endpointAddressProblem(
  url: URL,
  policy: AddressPolicy,
  lookup: LookupFunction = dns.lookup as unknown as LookupFunction,
): Promise<string | undefined> {
  const kind = classifyHost(url.hostname);
  if (kind !== "name") {
    const reason = classProblem(kind, policy);
    return reason ? `points at ${reason}` : undefined;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, RESOLVE_TIMEOUT_MS, undefined);
  });
  try {
    const addresses = await Promise.race([lookupAll(lookup, url.hostname, {}), timeout]);
    const forbidden = addresses && firstForbidden(addresses, policy);
    return forbidden ? `resolves to ${forbidden.address}, ${forbidden.reason}` : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
