import { BadRequestSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { BerthError } from "@berth/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { UsageError } from "./args.js";
import { CommandFailed, describeFailure, Interrupted } from "./errors.js";

const context = { url: "http://127.0.0.1:8080", apiKeyGiven: true };

function invalid(message: string, violations: Array<{ field: string; description: string }>) {
  return new BerthError(
    new ConnectError(message, Code.InvalidArgument, undefined, [
      { desc: BadRequestSchema, value: { fieldViolations: violations } },
    ]),
  );
}

describe("describeFailure", () => {
  it("prints the code, the message and each field violation once, exit 1", () => {
    const two = [
      { field: "instance.name", description: "is required" },
      { field: "instance.server_id", description: "is not in the registry" },
    ];
    expect(
      describeFailure(
        invalid("instance.name: is required; instance.server_id: is not in the registry", two),
        context,
      ),
    ).toEqual({
      lines: [
        "berth: INVALID_ARGUMENT: 2 problems",
        "  instance.name: is required",
        "  instance.server_id: is not in the registry",
      ],
      exitCode: 1,
    });
    const one = [{ field: "name", description: "is required" }];
    expect(describeFailure(invalid("name: is required", one), context).lines).toEqual([
      "berth: INVALID_ARGUMENT: name: is required",
    ]);
    expect(describeFailure(invalid("bad request", one), context).lines).toEqual([
      "berth: INVALID_ARGUMENT: bad request",
      "  name: is required",
    ]);
  });

  it("says where it could not connect and how to authenticate", () => {
    const down = new BerthError(new ConnectError("fetch failed", Code.Unavailable));
    expect(describeFailure(down, context).lines).toEqual([
      "berth: UNAVAILABLE: cannot reach Berth at http://127.0.0.1:8080: fetch failed",
    ]);
    const anonymous = new BerthError(new ConnectError("a key is required", Code.Unauthenticated));
    expect(describeFailure(anonymous, { ...context, apiKeyGiven: false }).lines).toEqual([
      "berth: UNAUTHENTICATED: a key is required (set BERTH_API_KEY or pass --api-key)",
    ]);
  });

  it("exits 2 for usage mistakes, 1 for failed waits, 130 for Ctrl-C", () => {
    expect(describeFailure(new UsageError("missing argument"), context)).toEqual({
      lines: ["berth: missing argument", 'Run "berth --help" for usage.'],
      exitCode: 2,
    });
    expect(
      describeFailure(new CommandFailed("FAILED", "instance w failed: boom"), context),
    ).toEqual({
      lines: ["berth: FAILED: instance w failed: boom"],
      exitCode: 1,
    });
    expect(describeFailure(new Interrupted(), context)).toEqual({ lines: [], exitCode: 130 });
  });
});
