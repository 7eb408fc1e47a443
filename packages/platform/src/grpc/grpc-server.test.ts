import { createRequire } from "node:module";
import { McpServerSchema, RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  credentials,
  loadPackageDefinition,
  makeClientConstructor,
  type ServiceClientConstructor,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentActor, withActor } from "../context/request-context.js";
import { fieldViolationsOf, invalidArgument, notFound } from "../errors/errors.js";
import { createLogger } from "../logging/logger.js";
import { createServiceClient } from "./grpc-client.js";
import { bind, createGrpcServer, type GrpcServer } from "./grpc-server.js";
import { createMeshAuthority } from "./mesh-pki.js";

// One CA for the file: RSA keys take a moment to make on a busy machine.
const mesh = createMeshAuthority();

// The bootstrap with a tiny in-memory implementation: pure gRPC plumbing, no engines needed.
describe("createGrpcServer", () => {
  let server: GrpcServer;
  let address = "";
  const seenCorrelation: Array<string | null> = [];
  const seenActor: Array<string | undefined> = [];

  beforeAll(async () => {
    server = createGrpcServer({
      identity: mesh.identity("registry"),
      logger: createLogger({ service: "test", level: "silent" }),
      services: [
        bind(RegistryService, {
          async createServer(request, ctx) {
            seenCorrelation.push(ctx.requestHeader.get("x-correlation-id"));
            if (!request.server?.name)
              throw invalidArgument([{ field: "server.name", description: "is required" }]);
            return { server: { ...request.server, id: "id-1" } };
          },
          async getServer(request, ctx) {
            if (request.id === "actor") {
              seenActor.push(currentActor());
              throw notFound("server", request.id);
            }
            if (request.id === "slow") {
              await new Promise((resolve) => setTimeout(resolve, 2_000));
              return { server: { id: String(ctx.signal.aborted) } };
            }
            if (request.id === "boom") throw new Error("database password is hunter2");
            throw notFound("server", request.id);
          },
        }),
      ],
    });
    address = `127.0.0.1:${await server.listen(0)}`;
    server.setServing(true);
  });
  afterAll(() => server.shutdown(1_000));

  const client = (as = "gateway") =>
    createServiceClient(RegistryService, address, {
      identity: mesh.identity(as),
      defaultTimeoutMs: 2_000,
    });
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "OK",
      (error: unknown) => Code[ConnectError.from(error).code],
    );

  it("serves protobuf-es methods to a gRPC client", async () => {
    const response = await client().createServer({
      server: create(McpServerSchema, { name: "a" }),
    });
    expect(response.server).toMatchObject({ id: "id-1", name: "a" });
  });

  it("carries field violations and codes through grpc-status-details-bin", async () => {
    const error = await client()
      .createServer({ server: {} })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect(fieldViolationsOf(error as ConnectError)).toEqual([
      { field: "server.name", description: "is required" },
    ]);
    const missing = await client()
      .getServer({ id: "x" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
  });

  it("hides internal error messages from callers", async () => {
    const error = ConnectError.from(
      await client()
        .getServer({ id: "boom" })
        .catch((e: unknown) => e),
    );
    expect(error.code).toBe(Code.Internal);
    expect(error.message).not.toContain("hunter2");
  });

  it("enforces the client's deadline", async () => {
    const error = ConnectError.from(
      await client()
        .getServer({ id: "slow" })
        .catch((e: unknown) => e),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
  });

  it("answers grpc.health.v1 and flips to NOT_SERVING", async () => {
    const Health = makeClientConstructor(healthService, "grpc.health.v1.Health");
    const gateway = mesh.identity("gateway");
    const tls = credentials.createSsl(
      Buffer.from(gateway.ca),
      Buffer.from(gateway.key),
      Buffer.from(gateway.cert),
    );
    const health = new Health(address, tls) as unknown as {
      check(req: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))),
      );
    expect(await check("berth.registry.v1.RegistryService")).toBe("SERVING");
    server.setServing(false);
    expect(await check("")).toBe("NOT_SERVING");
    server.setServing(true);
    health.close();
  });

  it("lists its services over server reflection", async () => {
    const require = createRequire(import.meta.url);
    const protoPath = require.resolve(
      "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    );
    const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
    };
    const runtime = mesh.identity("runtime");
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(
      address,
      credentials.createSsl(
        Buffer.from(runtime.ca),
        Buffer.from(runtime.key),
        Buffer.from(runtime.cert),
      ),
    );
    const call = (
      reflection as unknown as { serverReflectionInfo(): NodeJS.ReadWriteStream & { end(): void } }
    ).serverReflectionInfo();
    const answer = new Promise<{ list_services_response: { service: Array<{ name: string }> } }>(
      (resolve, reject) => {
        call.on("data", resolve);
        call.on("error", reject);
      },
    );
    call.write({ list_services: "" } as never);
    const services = (await answer).list_services_response.service.map((s) => s.name);
    call.end();
    reflection.close();
    expect(services).toEqual(
      expect.arrayContaining(["berth.registry.v1.RegistryService", "grpc.health.v1.Health"]),
    );
  });

  describe("on the mesh", () => {
    const getServer = { id: "x" };

    it("refuses a caller without a client certificate: UNAUTHENTICATED", async () => {
      const anonymous = createClient(
        RegistryService,
        createGrpcTransport({
          baseUrl: `https://${address}`,
          nodeOptions: { ca: mesh.ca.cert },
        }),
      );
      expect(await codeOf(anonymous.getServer(getServer))).toBe("Unauthenticated");
      expect(await codeOf(anonymous.createServer({ server: { name: "a" } }))).toBe(
        "Unauthenticated",
      );
    });

    it("refuses a certificate from another CA, even one naming the gateway", async () => {
      const stranger = createMeshAuthority().identity("gateway");
      const forged = createServiceClient(RegistryService, address, { identity: stranger });
      // The server's certificate is not from the stranger's CA either: the client gives up first.
      expect(await codeOf(forged.getServer(getServer))).not.toMatch(/^(OK|NotFound)$/);
      const forgedClientOnly = createClient(
        RegistryService,
        createGrpcTransport({
          baseUrl: `https://${address}`,
          nodeOptions: { ca: mesh.ca.cert, cert: stranger.cert, key: stranger.key },
        }),
      );
      expect(await codeOf(forgedClientOnly.getServer(getServer))).toBe("Unauthenticated");
    });

    it("refuses plaintext HTTP/2", async () => {
      const plaintext = createClient(
        RegistryService,
        createGrpcTransport({ baseUrl: `http://${address}`, defaultTimeoutMs: 2_000 }),
      );
      expect(await codeOf(plaintext.getServer(getServer))).not.toBe("NotFound");
    });

    it("lets each service call only what the mesh policy gives it", async () => {
      // The instances service validates against the catalog: it may read an entry...
      expect(await codeOf(client("instances").getServer(getServer))).toBe("NotFound");
      // ...but not write one, and the runtime may do neither.
      expect(await codeOf(client("instances").createServer({ server: { name: "a" } }))).toBe(
        "PermissionDenied",
      );
      expect(await codeOf(client("runtime").getServer(getServer))).toBe("PermissionDenied");
      expect(await codeOf(client("gateway").getServer(getServer))).toBe("NotFound");
    });

    it("keeps the actor a call names only when the gateway makes the call", async () => {
      const asKey = <T>(run: () => Promise<T>) => withActor("0123456789abcdef", run);
      await codeOf(asKey(() => client("gateway").getServer({ id: "actor" })));
      // The instances service may read an entry, but not say on whose behalf.
      await codeOf(asKey(() => client("instances").getServer({ id: "actor" })));
      expect(seenActor).toEqual(["0123456789abcdef", undefined]);
    });
  });
});
