import { describe, expect, it } from "vitest";
import { checkHeaders } from "./headers.js";
import { createProblems } from "./problems.js";

const problemsOf = (headers: unknown) => {
  const problems = createProblems();
  checkHeaders(headers, "instance.json_spec.headers", problems);
  return problems.list;
};

describe("url headers", () => {
  it("accepts ordinary headers", () => {
    expect(
      problemsOf({ "x-api-version": "2", Accept: "application/json", "x-tab": "a\tb" }),
    ).toEqual([]);
  });

  it.each([
    "content-length",
    "Content-Length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "Proxy-Authenticate",
    "x-forwarded-host",
    "authorization",
    "cookie",
    "bad name",
    "x:y",
    "",
  ])("refuses the header name %j, naming it", (name) => {
    expect(problemsOf({ [name]: "v" })).toEqual([
      { field: `instance.json_spec.headers.${name}`, description: expect.any(String) },
    ]);
  });

  it.each(["a\r\nx-smuggled: 1", "a\nb", "a\rb", "a\0b", "a\u007fb", 5, "x".repeat(8193)])(
    "refuses the value %j",
    (value) => {
      expect(problemsOf({ "x-ok": value }).map((p) => p.field)).toEqual([
        "instance.json_spec.headers.x-ok",
      ]);
    },
  );

  it("refuses duplicates by case, too many headers and a non-object", () => {
    expect(problemsOf({ "x-a": "1", "X-A": "2" }).map((p) => p.field)).toEqual([
      "instance.json_spec.headers.X-A",
    ]);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x-${i}`, "v"]));
    expect(problemsOf(many).map((p) => p.field)).toEqual(["instance.json_spec.headers"]);
    expect(problemsOf(["x"]).map((p) => p.field)).toEqual(["instance.json_spec.headers"]);
  });
});
