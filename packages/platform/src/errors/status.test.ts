import { BadRequestSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { StatusSchema } from "@berth/proto/gen/google/rpc/status_pb";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Code, ConnectError, invalidArgument } from "./errors.js";
import { codeName, httpStatusOf, statusDetailsBin, toConnectError } from "./status.js";

describe("status mapping", () => {
  it("maps codes to the HTTP status of Google's API design guide", () => {
    expect(httpStatusOf(Code.InvalidArgument)).toBe(400);
    expect(httpStatusOf(Code.NotFound)).toBe(404);
    expect(httpStatusOf(Code.AlreadyExists)).toBe(409);
    expect(httpStatusOf(Code.Aborted)).toBe(409);
    expect(httpStatusOf(Code.Unauthenticated)).toBe(401);
    expect(httpStatusOf(Code.PermissionDenied)).toBe(403);
    expect(httpStatusOf(Code.ResourceExhausted)).toBe(429);
    expect(httpStatusOf(Code.Unavailable)).toBe(503);
    expect(codeName(Code.FailedPrecondition)).toBe("FAILED_PRECONDITION");
  });

  it("encodes field violations as google.rpc.Status with BadRequest", () => {
    const error = invalidArgument([{ field: "server.name", description: "is required" }]);
    const status = fromBinary(StatusSchema, statusDetailsBin(error));
    expect(status.code).toBe(Code.InvalidArgument);
    const badRequest = anyUnpack(status.details[0]!, BadRequestSchema);
    expect(badRequest?.fieldViolations.map((v) => v.field)).toEqual(["server.name"]);
  });

  it("turns unknown failures into INTERNAL without their message", () => {
    const error = toConnectError(new Error("connection to 10.0.0.1 password=x failed"));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
    expect(toConnectError(new ConnectError("gone", Code.NotFound)).code).toBe(Code.NotFound);
  });
});
