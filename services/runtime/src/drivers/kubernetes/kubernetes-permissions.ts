/** One RBAC rule: verbs on a resource of an API group ("" is the core group). */
export interface PermissionRule {
  apiGroup: string;
  resource: string;
  verbs: string[];
}

/**
 * Every permission the Kubernetes driver uses in its namespace, and no other: the runtime's Role
 * in deploy/kubernetes grants exactly these (a test derives them from the driver's requests).
 * Pods are only listed and attached to; the driver never reads Secrets back.
 */
export const DRIVER_PERMISSIONS: readonly PermissionRule[] = [
  {
    apiGroup: "apps",
    resource: "deployments",
    verbs: ["create", "delete", "get", "list", "patch", "update"],
  },
  { apiGroup: "", resource: "pods", verbs: ["list"] },
  // The attach WebSocket is authorized as "get" by older API servers, as "create" by newer ones.
  { apiGroup: "", resource: "pods/attach", verbs: ["create", "get"] },
  { apiGroup: "", resource: "pods/log", verbs: ["get"] },
  { apiGroup: "", resource: "secrets", verbs: ["create", "delete", "list", "update"] },
  { apiGroup: "", resource: "services", verbs: ["create", "delete", "get", "list", "update"] },
  {
    apiGroup: "networking.k8s.io",
    resource: "networkpolicies",
    verbs: ["create", "delete", "list", "update"],
  },
];

const REQUEST_PATH =
  /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/[^/]+\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;

/**
 * The RBAC permission(s) an API request needs, as the API server's authorizer derives them from
 * method and path (the attach upgrade needs "get" or "create" depending on the server version).
 */
export function permissionsOf(request: {
  method: string;
  path: string;
  query?: Record<string, string>;
}): { apiGroup: string; resource: string; verb: string }[] {
  const match = REQUEST_PATH.exec(request.path);
  if (!match) throw new Error(`not a namespaced resource path: ${request.path}`);
  const group = match[1] ?? "";
  const plural = match[2]!;
  const name = match[3];
  const sub = match[4];
  const resource = sub ? `${plural}/${sub}` : plural;
  if (sub === "attach")
    return ["get", "create"].map((verb) => ({ apiGroup: group, resource, verb }));
  const verb = (() => {
    switch (request.method) {
      case "GET":
        if (name) return "get";
        return request.query?.watch === "true" ? "watch" : "list";
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return name ? "delete" : "deletecollection";
      default:
        throw new Error(`unexpected method ${request.method}`);
    }
  })();
  return [{ apiGroup: group, resource, verb }];
}
