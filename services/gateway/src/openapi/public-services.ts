import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { AuditService } from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { TeamsService } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { UsersService } from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { VirtualServersService } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import type { DescService } from "@bufbuild/protobuf";

/** Every service the gateway serves to the outside, in the order the API reference shows them. */
export const PUBLIC_SERVICES: readonly DescService[] = [
  RegistryService,
  InstancesService,
  RuntimeService,
  VirtualServersService,
  ApiKeysService,
  TeamsService,
  UsersService,
  DelegationService,
  DeadLettersService,
  AuditService,
];

/** The title, version and introduction of the OpenAPI document. */
export const OPENAPI_INFO = {
  title: "Berth API",
  version: "1",
  description:
    "REST/JSON transcoded from the google.api.http annotations of Berth's protobuf contracts. " +
    "The same methods answer Connect, gRPC-Web and gRPC on the same port. Send an API key as " +
    "`authorization: Bearer <key>` (or `x-api-key`).",
};
