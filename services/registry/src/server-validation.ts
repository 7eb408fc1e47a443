import { type FieldViolation, invalidArgument } from "@berth/platform";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";

/** Slugs (`everything`) and reverse-DNS names (`io.github.acme/weather`). */
const NAME =
  /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?(\/[a-zA-Z0-9]([a-zA-Z0-9._-]{0,126}[a-zA-Z0-9])?)?$/;

/** Checks a catalog entry for create; every problem is reported at once, each naming its field. */
export function validateServer(server: McpServer | undefined, prefix = "server"): void {
  const violations: FieldViolation[] = [];
  if (!server) {
    throw invalidArgument([{ field: prefix, description: "is required" }]);
  }
  if (!server.name) violations.push({ field: `${prefix}.name`, description: "is required" });
  else if (!NAME.test(server.name)) {
    violations.push({
      field: `${prefix}.name`,
      description: "must be a lowercase slug or a reverse-DNS name such as io.github.acme/weather",
    });
  }
  if (server.port > 65535)
    violations.push({ field: `${prefix}.port`, description: "must be at most 65535" });
  if (violations.length > 0) throw invalidArgument(violations);
}
