import { type FieldViolation, invalidArgument } from "@berth/platform";
import type { ApiKey } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { scopeName } from "./api-key-mapper.js";

const VIRTUAL_SERVER_REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const TOOL_PATTERN = /^[A-Za-z0-9_./:*?-]{1,128}$/;
const INSTANCE_REF = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/** Checks a CreateApiKey request; throws INVALID_ARGUMENT naming every bad field. */
export function validateNewApiKey(key: ApiKey | undefined, now = new Date()): asserts key {
  if (!key) throw invalidArgument([{ field: "api_key", description: "is required" }]);
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field, description });
  const name = key.displayName.trim();
  if (name === "") add("api_key.display_name", "is required");
  else if (name.length > 255) add("api_key.display_name", "must be at most 255 characters");
  if (key.scopes.length === 0)
    add("api_key.scopes", "needs at least one of admin, write, read, mcp, metrics");
  key.scopes.forEach((scope, i) => {
    if (!scopeName(scope))
      add(`api_key.scopes[${i}]`, "must be admin, write, read, mcp or metrics");
  });
  if (key.instances.length > 100) add("api_key.instances", "must list at most 100 instances");
  key.instances.forEach((ref, i) => {
    if (!INSTANCE_REF.test(ref)) add(`api_key.instances[${i}]`, "must be an instance id or name");
  });
  if (key.virtualServers.length > 100)
    add("api_key.virtual_servers", "must list at most 100 virtual servers");
  key.virtualServers.forEach((grant, i) => {
    if (!VIRTUAL_SERVER_REF.test(grant.virtualServer))
      add(`api_key.virtual_servers[${i}].virtual_server`, "must be a virtual server id or name");
    if (grant.tools.length > 200)
      add(`api_key.virtual_servers[${i}].tools`, "must list at most 200 names or patterns");
    grant.tools.forEach((tool, j) => {
      if (!TOOL_PATTERN.test(tool))
        add(
          `api_key.virtual_servers[${i}].tools[${j}]`,
          "must be a tool name or a pattern of them with * and ?",
        );
    });
  });
  const rate = key.rateLimitPerSecond;
  if (!Number.isFinite(rate) || rate < 0 || rate > 100_000) {
    add("api_key.rate_limit_per_second", "must be between 0 and 100000");
  }
  if (key.rateLimitBurst < 0 || key.rateLimitBurst > 1_000_000) {
    add("api_key.rate_limit_burst", "must be between 0 and 1000000");
  }
  if (key.expireTime && timestampDate(key.expireTime) <= now) {
    add("api_key.expire_time", "must be in the future");
  }
  if (violations.length > 0) throw invalidArgument(violations);
}
