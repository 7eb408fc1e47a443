/** One malformed request. */
export interface FuzzCase {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BAD_JSON = [
  '{"name":',
  "{",
  "[",
  '{"name": "a",}',
  "nul",
  '{"a":1}}',
  "\u0000",
  '{"name":"\\ud800"',
  '"str',
  "{'a':1}",
  "1e999999",
  `${"[".repeat(5000)}`,
];
const WRONG_TYPES = [
  { name: 123 },
  { name: ["a"] },
  { name: { nested: true } },
  { transport: "TRANSPORT_NOPE" },
  { port: -1 },
  { port: "eighty" },
  { port: 1.5 },
  { tags: "not-a-list" },
  { tags: [1, 2] },
  { isPublic: "yes" },
  { envSchema: [{ name: 5 }] },
  { revision: "x" },
  { createTime: "yesterday" },
  { unknownField: 1 },
  { name: "" },
  { name: "Not A Name!" },
];
const PATHS = [
  "/v1/servers/../apiKeys",
  "/v1/servers/%2e%2e/apiKeys",
  "/v1/servers/a%2Fb%2Fc",
  "//v1/servers",
  "/v1//servers",
  "/v1/servers/%00",
  "/v1/servers/%zz",
  `/v1/servers/${"a".repeat(5000)}`,
  "/v1/servers/x:nope",
  "/v1/servers:import:again",
  "/mcp/../v1/apiKeys",
  "/mcp/%2e%2e%2fv1%2fapiKeys",
  "/mcp/",
  "/mcp/a/b",
  "/mcp/%ff",
  "/v2/servers",
  "/v1/servers?page_size=abc",
  "/v1/servers?page_size=99999999999999999999",
  "/v1/servers?unknown=1",
  "/v1/servers?status=NOPE",
  "/berth.registry.v1.RegistryService/NoSuchMethod",
  "/berth.nope.v1.Nope/Get",
  "/%",
  "/v1/apiKeys/zzzz",
];
const TOKENS = [
  "",
  "Bearer",
  "Bearer ",
  "Basic dXNlcjpwYXNz",
  "Bearer berth_",
  "Bearer berth_0123456789abcdef_",
  "Bearer berth_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  `Bearer ${"x".repeat(4000)}`,
  "Bearer berth_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  "bearer  two tokens",
];

const pick = <T>(rand: () => number, list: readonly T[]): T =>
  list[Math.floor(rand() * list.length)]!;

function randomText(rand: () => number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(Math.floor(rand() * 0x7f));
  return text;
}

/** `count` malformed requests for a gateway whose body limit is `limit`, authorized by `adminKey` where a key is not the point. */
export function fuzzCases(
  rand: () => number,
  count: number,
  adminKey: string,
  limit: number,
): FuzzCase[] {
  const auth = { authorization: `Bearer ${adminKey}` };
  const json = { ...auth, "content-type": "application/json" };
  const connectJson = {
    ...auth,
    "content-type": "application/json",
    "connect-protocol-version": "1",
  };
  const makers: Array<() => FuzzCase> = [
    () => ({
      kind: "bad json",
      method: "POST",
      path: "/v1/servers",
      headers: json,
      body: pick(rand, BAD_JSON),
    }),
    () => ({
      kind: "random bytes",
      method: "POST",
      path: "/v1/servers",
      headers: json,
      body: randomText(rand, 1 + Math.floor(rand() * 200)),
    }),
    () => ({
      kind: "wrong types",
      method: "POST",
      path: "/v1/servers",
      headers: json,
      body: JSON.stringify(pick(rand, WRONG_TYPES)),
    }),
    () => ({
      kind: "wrong types (api key)",
      method: "POST",
      path: "/v1/apiKeys",
      headers: json,
      body: JSON.stringify({
        displayName: pick(rand, [1, null, [], ""]),
        scopes: pick(rand, ["x", [7], ["API_KEY_SCOPE_NOPE"], []]),
      }),
    }),
    () => ({
      kind: "patch bad mask",
      method: "PATCH",
      path: "/v1/servers/x?update_mask=no_such_field",
      headers: json,
      body: "{}",
    }),
    () => ({
      kind: "huge body",
      method: "POST",
      path: "/v1/servers",
      headers: json,
      body: Buffer.alloc(limit * 2 + Math.floor(rand() * limit), 0x61),
    }),
    () => ({
      kind: "huge body (mcp)",
      method: "POST",
      path: "/mcp/anything",
      headers: json,
      body: Buffer.alloc(limit * 2, 0x61),
    }),
    () => ({
      kind: "wrong content-type",
      method: "POST",
      path: "/v1/servers",
      headers: { ...auth, "content-type": "text/plain" },
      body: "{}",
    }),
    () => ({
      kind: "path trick",
      method: pick(rand, ["GET", "POST", "DELETE"]),
      path: pick(rand, PATHS),
      headers: auth,
    }),
    () => ({
      kind: "wrong method",
      method: pick(rand, ["PUT", "PATCH", "TRACE"]),
      path: pick(rand, ["/v1/servers", "/v1/apiKeys", "/healthz"]),
      headers: auth,
    }),
    () => ({
      kind: "bad token",
      method: pick(rand, ["GET", "POST"]),
      path: pick(rand, ["/v1/servers", "/v1/apiKeys", "/mcp/everything"]),
      headers: { authorization: pick(rand, TOKENS), "content-type": "application/json" },
      body: "{}",
    }),
    () => ({
      kind: "bad x-api-key",
      method: "GET",
      path: "/v1/servers",
      headers: { "x-api-key": pick(rand, TOKENS) },
    }),
    () => ({
      kind: "connect bad json",
      method: "POST",
      path: "/berth.registry.v1.RegistryService/CreateServer",
      headers: connectJson,
      body: pick(rand, BAD_JSON),
    }),
    () => ({
      kind: "connect wrong types",
      method: "POST",
      path: "/berth.registry.v1.RegistryService/CreateServer",
      headers: connectJson,
      body: JSON.stringify({ server: pick(rand, WRONG_TYPES) }),
    }),
    () => ({
      kind: "connect bad proto",
      method: "POST",
      path: "/berth.registry.v1.RegistryService/GetServer",
      headers: { ...auth, "content-type": "application/proto" },
      body: Buffer.from(randomText(rand, 40), "latin1"),
    }),
    () => ({
      kind: "connect bad content-type",
      method: "POST",
      path: "/berth.registry.v1.RegistryService/GetServer",
      headers: { ...auth, "content-type": "application/xml" },
      body: "<a/>",
    }),
    () => ({
      kind: "mcp bad method",
      method: pick(rand, ["PUT", "PATCH"]),
      path: "/mcp/everything",
      headers: auth,
    }),
  ];
  return Array.from({ length: count }, () => pick(rand, makers)());
}
