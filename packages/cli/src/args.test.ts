import { describe, expect, it } from "vitest";
import {
  parseAssignments,
  parseCommandArgs,
  parseCount,
  parseSeconds,
  splitCommand,
  UsageError,
} from "./args.js";

describe("splitCommand", () => {
  it("finds the group and verb wherever global options sit", () => {
    expect(splitCommand(["servers", "list"])).toEqual({ words: ["servers", "list"], rest: [] });
    expect(splitCommand(["--url", "http://x", "-o", "json", "servers", "get", "a"])).toEqual({
      words: ["servers", "get"],
      rest: ["--url", "http://x", "-o", "json", "a"],
    });
    expect(splitCommand(["--output=json", "instances", "create", "n", "--server", "s"])).toEqual({
      words: ["instances", "create"],
      rest: ["--output=json", "n", "--server", "s"],
    });
  });

  it("stops at -- and leaves flags of the command alone", () => {
    expect(splitCommand(["--help"])).toEqual({ words: [], rest: ["--help"] });
    expect(splitCommand(["--", "servers"])).toEqual({ words: [], rest: ["--", "servers"] });
  });
});

describe("parseCommandArgs", () => {
  const options = { server: { type: "string" }, env: { type: "string", multiple: true } } as const;

  it("parses command and global options together", () => {
    const parsed = parseCommandArgs(
      ["n", "--server", "s", "--env", "A=1", "--env", "B=2", "-o", "json"],
      options,
      { min: 1, max: 1 },
    );
    expect(parsed.positionals).toEqual(["n"]);
    expect(parsed.values).toMatchObject({ server: "s", env: ["A=1", "B=2"], output: "json" });
  });

  it("refuses unknown options and wrong argument counts as usage errors", () => {
    const parse = (args: string[]) => () => parseCommandArgs(args, options, { min: 1, max: 1 });
    expect(parse(["n", "--nope"])).toThrow(new UsageError("Unknown option '--nope'"));
    expect(parse([])).toThrow(new UsageError("missing argument"));
    expect(parse(["a", "b"])).toThrow(new UsageError('unexpected argument "b"'));
    expect(parse(["n", "--server"])).toThrow(UsageError);
  });
});

describe("parseAssignments", () => {
  it("reads NAME=VALUE pairs, keeping = inside values", () => {
    expect(parseAssignments(["A=1", "B=x=y", "C="], "env")).toEqual({ A: "1", B: "x=y", C: "" });
    expect(parseAssignments(undefined, "env")).toEqual({});
  });

  it("names the flag and never the value when a pair is wrong", () => {
    const attempt = (items: string[]) => {
      try {
        parseAssignments(items, "secret");
      } catch (error) {
        return (error as Error).message;
      }
      return "no error";
    };
    expect(attempt(["=sk-hidden"])).toBe("--secret needs NAME=VALUE with NAME a variable name");
    expect(attempt(["1X=sk-hidden"])).not.toContain("sk-hidden");
    expect(attempt(["A=sk-1", "A=sk-2"])).toBe("--secret A is given twice");
  });
});

describe("numbers", () => {
  it("parses seconds with a fallback, and positive counts", () => {
    expect(parseSeconds(undefined, "timeout", 120)).toBe(120_000);
    expect(parseSeconds("0", "timeout", 120)).toBe(0);
    expect(() => parseSeconds("1.5", "timeout", 120)).toThrow("--timeout must be a whole number");
    expect(parseCount("20", "tail")).toBe(20);
    expect(parseCount(undefined, "tail")).toBeUndefined();
    expect(() => parseCount("0", "tail")).toThrow("--tail must be a positive whole number");
  });
});
