import { invalidArgument, notFound } from "@berth/platform";
import { ErrorInfoSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RestHttpError, restErrorBody } from "./rest-errors.js";

describe("restErrorBody", () => {
  it("writes INVALID_ARGUMENT as 400 with google.rpc.BadRequest field violations", () => {
    const error = invalidArgument([{ field: "server.name", description: "required" }]);
    expect(restErrorBody(error)).toEqual({
      status: 400,
      body: {
        error: {
          code: 400,
          status: "INVALID_ARGUMENT",
          message: "server.name: required",
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.BadRequest",
              fieldViolations: [{ field: "server.name", description: "required" }],
            },
          ],
        },
      },
    });
  });

  it("maps codes to HTTP statuses", () => {
    expect(restErrorBody(notFound("server", "s1")).body).toEqual({
      error: { code: 404, status: "NOT_FOUND", message: 'server "s1" not found', details: [] },
    });
    expect(restErrorBody(new ConnectError("stale", Code.Aborted)).status).toBe(409);
    expect(restErrorBody(new ConnectError("slow down", Code.ResourceExhausted)).status).toBe(429);
  });

  it("keeps other details, each with its @type", () => {
    const info = create(ErrorInfoSchema, { reason: "QUOTA", domain: "berth.dev" });
    const error = new ConnectError("no", Code.PermissionDenied, undefined, [
      { desc: ErrorInfoSchema, value: info },
    ]);
    expect(restErrorBody(error).body.error).toMatchObject({
      code: 403,
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "QUOTA",
          domain: "berth.dev",
        },
      ],
    });
  });

  it("never shows the message of unknown or internal failures", () => {
    const plain = restErrorBody(new Error("connect to postgres://berth:hunter2@db failed"));
    expect(plain.status).toBe(500);
    expect(plain.body).toEqual({
      error: { code: 500, status: "INTERNAL", message: "internal error", details: [] },
    });
    const internal = restErrorBody(
      new ConnectError("relation servers does not exist", Code.Internal),
    );
    expect(JSON.stringify(internal.body)).not.toContain("relation");
  });

  it("uses the HTTP status of a REST-level failure", () => {
    const error = new RestHttpError(413, Code.ResourceExhausted, "request body exceeds 10 bytes");
    expect(restErrorBody(error)).toMatchObject({
      status: 413,
      body: { error: { code: 413, status: "RESOURCE_EXHAUSTED" } },
    });
  });
});
