import { createRegistry, type DescFile, type Registry } from "@bufbuild/protobuf";
import { file_google_protobuf_any, file_google_protobuf_struct } from "@bufbuild/protobuf/wkt";
import { file_berth_events_v1_events } from "./gen/berth/events/v1/events_pb.js";
import { file_berth_gateway_v1_api_keys } from "./gen/berth/gateway/v1/api_keys_pb.js";
import { file_berth_gateway_v1_audit } from "./gen/berth/gateway/v1/audit_pb.js";
import { file_berth_gateway_v1_dead_letters } from "./gen/berth/gateway/v1/dead_letters_pb.js";
import { file_berth_instances_v1_instances } from "./gen/berth/instances/v1/instances_pb.js";
import { file_berth_registry_v1_registry } from "./gen/berth/registry/v1/registry_pb.js";
import { file_berth_runtime_v1_runtime } from "./gen/berth/runtime/v1/runtime_pb.js";
import { file_google_rpc_error_details } from "./gen/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "./gen/google/rpc/status_pb.js";

/** Every Berth contract file, for reflection, Any packing and JSON. */
export const berthFiles: readonly DescFile[] = [
  file_berth_registry_v1_registry,
  file_berth_instances_v1_instances,
  file_berth_runtime_v1_runtime,
  file_berth_events_v1_events,
  file_berth_gateway_v1_api_keys,
  file_berth_gateway_v1_dead_letters,
  file_berth_gateway_v1_audit,
  file_google_rpc_status,
  file_google_rpc_error_details,
  file_google_protobuf_any,
  file_google_protobuf_struct,
];

/** A registry of every Berth message, enum and service (resolves Any payloads and JSON). */
export const berthRegistry: Registry = createRegistry(...berthFiles);
