import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * The JetStream key-value buckets the gateway replicas share (only the gateway's NATS user may
 * write them: `$KV.<bucket>.>` in its publish permissions).
 */
export const GATEWAY_BUCKETS = {
  /** API key id -> revoke time: every replica watches it and drops the key from its cache. */
  revocations: "berth_gateway_revocations",
  /** Token buckets of the per-key and per-address rate limits, shared by every replica. */
  rates: "berth_gateway_rates",
} as const;

/** The name of one of the gateway's buckets. */
export type GatewayBucket = (typeof GATEWAY_BUCKETS)[keyof typeof GATEWAY_BUCKETS];

/**
 * Opens a bucket, creating it with `options` when it does not exist yet (every replica may
 * race to create it: creating an existing bucket with the same settings opens it).
 */
export function openBucket(
  nc: NatsConnection,
  name: GatewayBucket,
  options: Partial<KvOptions>,
): Promise<KV> {
  return new Kvm(nc).create(name, options);
}
