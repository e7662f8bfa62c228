import { z } from "zod";
import { authorizationConfigSchema } from "../features/authorization/config.ts";
import { quotasConfigSchema } from "../features/flow-control/config.ts";
import { bool, int, num, port } from "./coerce.ts";
import {
  listenSecuritySchema,
  securityProtocolSchema,
  upstreamSaslSchema,
  upstreamTlsSchema,
} from "./security.ts";

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, "expected host:port, for example 127.0.0.1:9092");

const hostWithOptionalPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(:\d{1,5})?$/, "expected host or host:port");

const bootstrapServers = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : value,
  z.array(hostPort).min(1, "at least one bootstrap server is required"),
);

const clusterName = z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' or '-'");

/** How the proxy reaches one upstream cluster. */
const clusterFields = {
  bootstrap_servers: bootstrapServers,
  /** Virtual node id of the cluster's node 0; with several clusters, 100 times the cluster's place by default. */
  node_id_base: int(0, 1_000_000_000).optional(),
  security_protocol: securityProtocolSchema.default("PLAINTEXT"),
  tls: upstreamTlsSchema.nullish(),
  sasl: upstreamSaslSchema.nullish(),
};

const upstreamTimingFields = {
  connection_timeout_ms: int(1).default(10000),
  request_timeout_ms: int(1).default(30000),
  /** 0 turns the background refresh off. */
  metadata_refresh_interval_secs: num(0).default(30),
};

const partitionRule = z
  .object({
    virtual_partitions: int(1).optional(),
    physical_partitions: int(1).optional(),
    ratio: int(1).optional(),
    offset_range: num().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    listen: z
      .object({
        address: hostPort.default("127.0.0.1:9092"),
        advertised_address: hostWithOptionalPort.nullish(),
        /** Client connections across every listener; past it a new connection is accepted and closed at once. */
        max_connections: int(1).default(1000),
        /**
         * Client connections from one IP address, like the broker's `max.connections.per.ip`. Default: half of
         * max_connections, so that one address (a runaway client, a reconnect storm, a flood) cannot take every
         * connection and lock the other clients out, while a host running many clients still gets plenty. Raise it
         * to max_connections when every client reaches the proxy through one address (a NAT, a load balancer that
         * does not keep client addresses).
         */
        max_connections_per_ip: int(1).nullish(),
        /** Per-address caps that replace max_connections_per_ip, like `max.connections.per.ip.overrides`; 0 refuses. */
        max_connections_per_ip_overrides: z.record(z.string(), int(0)).default({}),
        /**
         * A client connection with no request in flight that has sent nothing for this long is closed, like the
         * broker's `connections.max.idle.ms` (clients reconnect on their next request; Java clients close their own
         * idle connections after 9 minutes). A long-polling Fetch in flight is not idle.
         */
        connections_max_idle_ms: int(1).default(600_000),
        /** A connection that has not sent one complete request this long after connecting (a slowloris) is closed. */
        first_frame_timeout_ms: int(1).default(10_000),
        broker_port_base: port.nullish(),
        broker_id_base: int(0).default(0),
        /** Default: 100 past the highest cluster's node_id_base. */
        broker_port_count: int(1, 10000).nullish(),
        broker_ports: z.record(z.string().regex(/^\d+$/, "broker id"), port).default({}),
        departed_broker_linger_secs: num(0).default(300),
        security: listenSecuritySchema.nullish(),
      })
      .strict()
      .prefault({}),
    virtual_cluster: z
      .object({
        name: z.string().min(1).default("kafka-partition-proxy"),
        cluster_id: z.string().min(1).max(64).nullish(),
      })
      .strict()
      .prefault({}),
    /** The upstream cluster, named `default` unless `name` says otherwise; or `clusters` with `routing`. */
    kafka: z
      .object({
        name: clusterName.default("default"),
        ...clusterFields,
        ...upstreamTimingFields,
      })
      .strict()
      .optional(),
    /** Several upstream clusters by name, behind one virtual cluster; `routing` says which topic lives where. */
    clusters: z.record(clusterName, z.object(clusterFields).strict()).optional(),
    routing: z
      .object({
        /** Where topics and groups go that no rule names; the first cluster when absent. */
        default_cluster: clusterName.nullish(),
        /** Topic name patterns (anchored regular expressions) to cluster names; the first match wins. */
        topics: z.record(z.string(), clusterName).default({}),
        /** Consumer group id patterns to their home cluster; the first match wins. */
        groups: z.record(z.string(), clusterName).default({}),
        /** Transactional id patterns to the cluster of their coordinator; the first match wins. */
        transactional_ids: z.record(z.string(), clusterName).default({}),
      })
      .strict()
      .optional(),
    /** Timeouts and refresh towards every upstream cluster (with `clusters`; `kafka` holds its own). */
    upstream: z.object(upstreamTimingFields).strict().prefault({}),
    mapping: z
      .object({
        virtual_partitions: int(1).optional(),
        physical_partitions: int(1).optional(),
        offset_range: num().optional(),
        topics: z.record(z.string(), partitionRule).default({}),
        never_virtualize: z.array(z.string()).default([]),
        marker_header: z.string().min(1).default("__kpp_vp"),
        keep_marker: bool().default(false),
        read_ahead_bytes: int(0).default(16 * 1024 * 1024),
        max_decompressed_batch_bytes: int(1024).default(16 * 1024 * 1024),
      })
      .strict()
      .optional(),
    proxy: z
      .object({
        max_frame_bytes: int(1024).default(100 * 1024 * 1024),
        max_in_flight_bytes: int(64 * 1024).default(8 * 1024 * 1024),
        max_in_flight_requests: int(1).default(256),
        memory_budget_bytes: int(1024 * 1024).default(512 * 1024 * 1024),
        shutdown_grace_ms: int(0).default(10000),
        api_max_versions: z.record(z.string(), int(0)).default({}),
        chain: z.array(z.string().min(1)).min(1).nullish(),
      })
      .strict()
      .prefault({}),
    /** Per-principal rules on topics, groups and transactional ids (terminate mode). */
    authorization: authorizationConfigSchema.optional(),
    /** Produce and fetch byte rates per topic and per client (flow control). */
    quotas: quotasConfigSchema.optional(),
    metrics: z
      .object({
        enabled: bool().default(true),
        address: hostPort.default("127.0.0.1:9644"),
        /** Series of kafka_proxy_consumer_lag (group, topic, partition) at most; the rest are left out. */
        max_lag_series: int(1).default(2000),
        /** Produce and fetch bytes and records per topic, client id and principal (the traffic feature). */
        traffic: bool().default(true),
        /** Distinct topics counted by name; the rest count under "other". */
        max_topic_labels: int(1).default(200),
        /** Distinct client ids, and principals, counted by name; the rest count under "other". */
        max_client_labels: int(1).default(200),
      })
      .strict()
      .prefault({}),
    /** The admin API on the metrics server. */
    admin: z
      .object({
        /** Calls that change state need it as `Authorization: Bearer <token>`; without it they are disabled. */
        token: z.string().min(16, "at least 16 characters").nullish(),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
        json: bool().optional(),
        format: z.enum(["json", "text"]).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
