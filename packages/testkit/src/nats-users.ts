/** One NATS user and what it may publish and subscribe to. */
export interface NatsUser {
  user: string;
  password: string;
  publish: readonly string[];
  /** Subjects it may not publish on even where `publish` allows them (deny wins). */
  publishDeny?: readonly string[];
  subscribe: readonly string[];
  /** May answer requests it received (reply subjects), and nothing else on inboxes. */
  allowResponses?: boolean;
}

/** The services that each log in to NATS as a user of their own. */
export const BERTH_NATS_SERVICES = ["registry", "instances", "runtime", "gateway"] as const;
export type BerthNatsService = (typeof BERTH_NATS_SERVICES)[number];

/**
 * What every service needs for JetStream through nats.js 3: the JetStream API (stream and
 * consumer management, pull requests), acks and flow-control replies, and replies on inboxes.
 */
const JETSTREAM_CLIENT = {
  publish: ["$JS.API.>", "$JS.ACK.>", "$JS.FC.>"],
  subscribe: ["_INBOX.>", "berth.>"],
};

/**
 * The durable consumers each service owns (`durableName(service, name)` of its
 * createEventConsumer calls). No other credential may pull from, ack for, re-create or delete them.
 */
export const BERTH_DURABLES: Readonly<Record<BerthNatsService, readonly string[]>> = {
  registry: ["registry-instance-usage"],
  instances: ["instances-status"],
  runtime: ["runtime-instances"],
  gateway: [],
};

/**
 * The key-value buckets the gateway replicas share (GATEWAY_BUCKETS in the gateway): key
 * revocations and rate-limit buckets. Only the gateway writes them.
 */
const GATEWAY_KV_WRITES = ["$KV.berth_gateway_revocations.>", "$KV.berth_gateway_rates.>"];
const GATEWAY_KV_STREAMS = ["KV_berth_gateway_revocations", "KV_berth_gateway_rates"];

/** The event streams; their messages are deleted by nobody (dead letters are, after replay). */
const EVENT_STREAMS = ["BERTH_REGISTRY", "BERTH_INSTANCES", "BERTH_RUNTIME"];

/**
 * What a service may not do through the JetStream API although `$JS.API.>` is allowed: delete or
 * purge any stream, delete an event from an event stream, and touch another service's durable
 * consumer (pull its messages, ack them, create, update, inspect or delete it). Creating and
 * updating streams stays open to every service: each one ensures every stream at start with the
 * one canonical configuration (`ensureStreams`), so it need not wait for the producer to start.
 */
function jetStreamDeny(service: BerthNatsService): string[] {
  const others = BERTH_NATS_SERVICES.filter((s) => s !== service).flatMap((s) => BERTH_DURABLES[s]);
  return [
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    ...EVENT_STREAMS.map((stream) => `$JS.API.STREAM.MSG.DELETE.${stream}`),
    // The gateway's shared buckets: no other service may erase a revocation or a rate count.
    ...(service === "gateway"
      ? []
      : GATEWAY_KV_STREAMS.map((stream) => `$JS.API.STREAM.MSG.DELETE.${stream}`)),
    ...others.flatMap((durable) => [
      `$JS.API.CONSUMER.MSG.NEXT.*.${durable}`,
      `$JS.API.CONSUMER.DELETE.*.${durable}`,
      `$JS.API.CONSUMER.CREATE.*.${durable}`,
      `$JS.API.CONSUMER.CREATE.*.${durable}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.*.${durable}`,
      `$JS.API.CONSUMER.INFO.*.${durable}`,
      `$JS.ACK.*.${durable}.>`,
    ]),
  ];
}

/**
 * Berth's NATS users: each service publishes its own events only (`berth.<service>.>`), so a
 * leaked gateway password cannot forge an instance event for the runtime to act on.
 * admin (optional) may do anything: the test kit's own, for cleaning streams and tapping events.
 */
export function berthNatsUsers(
  passwords: Readonly<Record<BerthNatsService, string>>,
  admin?: { user: string; password: string },
): NatsUser[] {
  const users: NatsUser[] = BERTH_NATS_SERVICES.map((service) => ({
    user: service,
    password: passwords[service],
    // Its own events, its dead letters, and (the gateway, for the admin API) replay requests
    // that the producing service carries out.
    publish: [
      ...JETSTREAM_CLIENT.publish,
      `berth.${service}.>`,
      `berth.dlq.${service}.>`,
      ...(service === "gateway" ? ["berth.replay.>", ...GATEWAY_KV_WRITES] : []),
    ],
    publishDeny: jetStreamDeny(service),
    subscribe: JETSTREAM_CLIENT.subscribe,
    allowResponses: true,
  }));
  if (admin) users.push({ ...admin, publish: [">"], subscribe: [">"] });
  return users;
}

/** A JSON string: valid in nats-server's config syntax, which accepts JSON values. */
const quoted = (value: string) => JSON.stringify(value);

/** A node's place in a JetStream cluster: the route port and the other nodes' route ports. */
export interface NatsClusterNode {
  /** The cluster's name (the same on every node). */
  name: string;
  /** This node's name, unique in the cluster (JetStream clustering needs one). */
  serverName: string;
  /** The route port this node listens on (127.0.0.1). */
  port: number;
  /** The route ports of the other nodes. */
  routes: readonly number[];
  /** Routes log in with this user and password: a stranger on the route port cannot join. */
  user: string;
  password: string;
}

/** The nats-server configuration file for these users, listening on 127.0.0.1:port. */
export function natsServerConfig(options: {
  port: number;
  storeDir: string;
  users: readonly NatsUser[];
  cluster?: NatsClusterNode | undefined;
}): string {
  const users = options.users.map(
    (u) =>
      `    { user: ${quoted(u.user)}, password: ${quoted(u.password)}, permissions: { publish: { allow: ${JSON.stringify(u.publish)}${u.publishDeny?.length ? `, deny: ${JSON.stringify(u.publishDeny)}` : ""} }, subscribe: { allow: ${JSON.stringify(u.subscribe)} }${u.allowResponses ? ", allow_responses: true" : ""} } }`,
  );
  const cluster = options.cluster;
  const route = (port: number) =>
    quoted(
      `nats://${encodeURIComponent(cluster?.user ?? "")}:${encodeURIComponent(cluster?.password ?? "")}@127.0.0.1:${port}`,
    );
  return [
    "# Written by Berth on every start; one user per service, see SECURITY.md.",
    ...(cluster ? [`server_name: ${quoted(cluster.serverName)}`] : []),
    `listen: "127.0.0.1:${options.port}"`,
    `jetstream { store_dir: ${quoted(options.storeDir)} }`,
    "authorization {",
    "  users: [",
    users.join(",\n"),
    "  ]",
    "}",
    ...(cluster
      ? [
          "cluster {",
          `  name: ${quoted(cluster.name)}`,
          `  listen: "127.0.0.1:${cluster.port}"`,
          `  authorization { user: ${quoted(cluster.user)}, password: ${quoted(cluster.password)} }`,
          `  routes: [${cluster.routes.map(route).join(", ")}]`,
          "}",
        ]
      : []),
    "",
  ].join("\n");
}
