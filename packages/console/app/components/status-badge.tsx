import { InstanceStatus } from "@berth/sdk";
import { Badge } from "@radix-ui/themes";

type Color = "green" | "amber" | "red" | "gray" | "blue";
const COLORS: Partial<Record<InstanceStatus, Color>> = {
  [InstanceStatus.RUNNING]: "green",
  [InstanceStatus.UNHEALTHY]: "amber",
  [InstanceStatus.FAILED]: "red",
  [InstanceStatus.STOPPED]: "gray",
  // Asleep by the idle policy: the next MCP request starts it.
  [InstanceStatus.IDLE]: "gray",
};

/** RUNNING, STOPPED, … as the API names them (INSTANCE_STATUS_ dropped). */
export function statusName(status: InstanceStatus): string {
  return InstanceStatus[status] ?? "UNSPECIFIED";
}

export function StatusBadge({ status }: { status: InstanceStatus }) {
  return (
    <Badge
      highContrast
      color={COLORS[status] ?? "blue"}
      variant="soft"
      size="2"
      data-status={statusName(status)}
    >
      {statusName(status)}
    </Badge>
  );
}
