/**
 * Offline validation of Kubernetes objects, as an API server would refuse them:
 * - the Kubernetes OpenAPI schemas as compiled by kubernetes-models (types, required fields,
 *   formats such as quantities and DNS names, enums);
 * - unknown fields (the API server's strict field validation): the schemas allow extra keys, so
 *   a misspelt `readOnlyRootFileSystem` would pass them and silently drop the hardening. Keys are
 *   checked against @kubernetes/client-node's own type maps of the same API.
 */
import * as k8s from "@kubernetes/client-node";
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Service,
  ServiceAccount,
} from "kubernetes-models/v1";

interface Model {
  validate(): void;
}
type ModelClass = new (data: never) => Model;

/** The kinds Berth creates or ships, by apiVersion/kind: their schema and client-node type. */
const KINDS: Record<string, { model: ModelClass; type: string }> = {
  "apps/v1/Deployment": { model: Deployment, type: "V1Deployment" },
  "apps/v1/StatefulSet": { model: StatefulSet, type: "V1StatefulSet" },
  "v1/Secret": { model: Secret, type: "V1Secret" },
  "v1/Service": { model: Service, type: "V1Service" },
  "v1/ServiceAccount": { model: ServiceAccount, type: "V1ServiceAccount" },
  "v1/ConfigMap": { model: ConfigMap, type: "V1ConfigMap" },
  "v1/Namespace": { model: Namespace, type: "V1Namespace" },
  "v1/Pod": { model: Pod, type: "V1Pod" },
  "v1/PersistentVolumeClaim": { model: PersistentVolumeClaim, type: "V1PersistentVolumeClaim" },
  "networking.k8s.io/v1/NetworkPolicy": { model: NetworkPolicy, type: "V1NetworkPolicy" },
  "rbac.authorization.k8s.io/v1/Role": { model: Role, type: "V1Role" },
  "rbac.authorization.k8s.io/v1/RoleBinding": { model: RoleBinding, type: "V1RoleBinding" },
};

/** The kinds this validator knows. */
export const KNOWN_KINDS = Object.keys(KINDS);

type AttributeMap = Array<{ name: string; baseName: string; type: string }>;

/** client-node's attribute map of a model type, if the type is a model. */
function attributes(type: string): AttributeMap | undefined {
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[
    type
  ];
  return model?.getAttributeTypeMap?.();
}

/** Keys that no field of the type has, with their JSON path. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item, index) => unknownFields(item, array[1]!, `${path}/${index}`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== "object") return [];
    return Object.entries(value).flatMap(([key, item]) =>
      unknownFields(item, map[1]!, `${path}/${key}`),
    );
  }
  const fields = attributes(type);
  if (!fields || typeof value !== "object" || Array.isArray(value)) return [];
  const byName = new Map(fields.map((field) => [field.baseName, field.type]));
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const fieldType = byName.get(key);
    if (!fieldType) return [`${path}/${key} is not a field of ${type}`];
    return unknownFields(item, fieldType, `${path}/${key}`);
  });
}

/**
 * Every problem the API server would report for a wire-form object (plain JSON as sent over
 * HTTP): an unknown kind, schema violations, unknown fields. Empty when valid.
 */
export function schemaProblems(object: unknown): string[] {
  const { apiVersion, kind } = (object ?? {}) as { apiVersion?: string; kind?: string };
  const known = KINDS[`${apiVersion}/${kind}`];
  if (!known) return [`${apiVersion}/${kind} is not a kind this validator knows`];
  const problems: string[] = [];
  try {
    new known.model(structuredClone(object) as never).validate();
  } catch (error) {
    problems.push(...(error as Error).message.split(", ").map((m) => m.replace(/^data/, "")));
  }
  problems.push(...unknownFields(object, known.type, ""));
  return problems;
}

/**
 * The wire form of an object built with client-node's types (what client-node sends): its
 * serializer renames fields such as `_from` to `from` and drops undefined ones.
 */
export function toWire(object: { apiVersion?: string; kind?: string }): unknown {
  const known = KINDS[`${object.apiVersion}/${object.kind}`];
  if (!known) throw new Error(`${object.apiVersion}/${object.kind} is not a known kind`);
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(object, known.type, "")));
}
