import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import {
  createGuardedLookup,
  endpointAddressProblem,
  isForbiddenAddressError,
  type LookupFunction,
} from "./guarded-lookup.js";

const strict = { allowLoopback: false, allowPrivate: false };

/** A resolver answering from a table, as dns.lookup does (all or the first address). */
const fakeDns =
  (table: Record<string, string[]>): LookupFunction =>
  (hostname, options, callback) => {
    const addresses = (table[hostname] ?? []).map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    }));
    if (addresses.length === 0) {
      callback(Object.assign(new Error("not found"), { code: "ENOTFOUND" }), []);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };

const dns = fakeDns({
  "public.test": ["93.184.215.14"],
  "inside.test": ["127.0.0.1"],
  "mixed.test": ["93.184.215.14", "::ffff:169.254.169.254"],
  "nat64.test": ["64:ff9b::a9fe:a9fe"],
});

function lookupOnce(lookup: LookupFunction, host: string, all: boolean) {
  return new Promise<{ error: unknown; address: string | LookupAddress[] }>((resolve) =>
    lookup(host, { all }, (error, address) => resolve({ error, address })),
  );
}

describe("createGuardedLookup", () => {
  const guarded = createGuardedLookup(strict, dns);

  it("answers allowed names in the form asked for", async () => {
    expect(await lookupOnce(guarded, "public.test", false)).toEqual({
      error: null,
      address: "93.184.215.14",
    });
    expect((await lookupOnce(guarded, "public.test", true)).address).toEqual([
      { address: "93.184.215.14", family: 4 },
    ]);
  });

  it.each(["inside.test", "mixed.test", "nat64.test"])(
    "fails the dial of %s, which has a forbidden address",
    async (host) => {
      const { error } = await lookupOnce(guarded, host, false);
      expect(isForbiddenAddressError(error)).toBe(true);
      expect(String(error)).toContain(host);
    },
  );

  it("passes resolver errors through", async () => {
    const { error } = await lookupOnce(guarded, "nowhere.test", false);
    expect((error as { code: string }).code).toBe("ENOTFOUND");
  });

  it("guards a real socket: a connection to localhost never opens", async () => {
    const net = await import("node:net");
    const error = await new Promise<unknown>((resolve) => {
      const socket = net.connect({
        host: "localhost",
        port: 9,
        lookup: createGuardedLookup(strict),
      });
      socket.on("error", resolve);
      socket.on("connect", () => {
        socket.destroy();
        resolve(undefined);
      });
    });
    expect(isForbiddenAddressError(error)).toBe(true);
  });
});

describe("endpointAddressProblem", () => {
  const problem = (url: string) => endpointAddressProblem(new URL(url), strict, dns);

  it("checks every resolved address of a name", async () => {
    expect(await problem("https://public.test/mcp")).toBeUndefined();
    expect(await problem("https://inside.test/mcp")).toMatch(/resolves to 127.0.0.1, a loopback/);
    expect(await problem("https://mixed.test/mcp")).toMatch(/169.254.169.254, a metadata/);
  });

  it("judges literals and well-known names as written, and leaves unresolvable names to dial time", async () => {
    expect(await problem("http://[::169.254.169.254]/")).toMatch(/metadata/);
    expect(await problem("http://api.localhost/")).toMatch(/loopback/);
    expect(await problem("https://nowhere.test/mcp")).toBeUndefined();
  });
});
