import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseDocument } from "yaml";
import { type AuthorizationSettings, normalizeAuthorization } from "../features/authorization/config.ts";
import { normalizeQuotas, type QuotaSettings } from "../features/flow-control/config.ts";
import { API_KEYS } from "../protocol/generated/api-keys.ts";
import {
  compileRegex,
  DEFAULT_NODE_ID_STRIDE,
  type HostPort,
  normalizeUpstream,
  parseHostPort,
  type RoutingSettings,
  type UpstreamClusterSettings,
} from "./clusters.ts";
import { configSchema, type ParsedConfig, type RawConfig } from "./schema.ts";
import {
  type ClientSecuritySettings,
  type NamedFile,
  normalizeClientSecurity,
  unreadableFiles,
} from "./security.ts";

export type { HostPort, RoutingRule, RoutingSettings, UpstreamClusterSettings } from "./clusters.ts";
export { parseHostPort } from "./clusters.ts";

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface PartitionRule {
  pattern: RegExp;
  source: string;
  virtualPartitions: number;
  physicalPartitions: number;
}

export interface ProxyConfig {
  raw: ParsedConfig;
  listen: HostPort;
  advertisedHost: string;
  advertisedBootstrapPort: number;
  maxConnections: number;
  /** Client connections from one address (listen.max_connections_per_ip; default half of maxConnections). */
  maxConnectionsPerIp: number;
  /** Per-address caps replacing maxConnectionsPerIp, keyed by the normalized address (see `normalizeClientAddress`). */
  maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** A connection with nothing in flight that sent nothing for this long is closed. */
  connectionsMaxIdleMs: number;
  /** A connection that has not completed its first request this long after connecting is closed. */
  firstFrameTimeoutMs: number;
  /** TLS and SASL towards clients (listen.security). */
  clientSecurity: ClientSecuritySettings;
  /** Certificates, keys and credential files the config names (see `unreadableFiles`). */
  files: readonly NamedFile[];
  /** Per-principal rules (authorization); disabled when the section is absent. */
  authorization: AuthorizationSettings;
  /** Byte-rate limits per topic and client (flow control); none when the section is absent. */
  quotas: QuotaSettings;
  /** The client-facing port of a virtual node. */
  nodePortFor(nodeId: number): number | undefined;
  departedBrokerLingerMs: number;
  /** Bytes of virtualized fetches read ahead of consumers, across connections (0: no read-ahead). */
  readAheadBytes: number;
  /** Largest decompressed size of one produced batch of a virtualized topic (larger ones are refused). */
  maxDecompressedBatchBytes: number;
  virtualCluster: { name: string; clusterId: string | undefined };
  /** The upstream clusters; the first is the default. */
  clusters: UpstreamClusterSettings[];
  /** Which cluster each topic lives on, and where groups and transactional ids are coordinated. */
  routing: RoutingSettings;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  metadataRefreshMs: number;
  maxFrameBytes: number;
  maxInFlightBytes: number;
  /** Requests waiting for their response, per client connection, past which its requests are not read. */
  maxInFlightRequests: number;
  /** Bytes held for clients across connections past which no client's requests are read. */
  memoryBudgetBytes: number;
  shutdownGraceMs: number;
  /** Highest version offered to clients per api key, below what the broker and codec support. */
  apiMaxVersions: ReadonlyMap<number, number>;
  /** Feature names from the client towards the brokers; the built-in order when absent. */
  chain: readonly string[] | undefined;
  metrics: {
    enabled: boolean;
    address: HostPort;
    /** Per-topic and per-client traffic counting (metrics.traffic). */
    traffic: boolean;
    maxTopicLabels: number;
    maxClientLabels: number;
  };
  /** The admin API's token for calls that change state (admin.token); undefined disables them. */
  adminToken: string | undefined;
  logging: { level: ParsedConfig["logging"]["level"]; json: boolean };
  partitionRules: PartitionRule[];
  neverVirtualize: RegExp[];
  markerHeader: string;
  keepMarker: boolean;
  warnings: string[];
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function substituteEnv(value: unknown, path: string, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value === "string") {
    return value.replace(ENV_REFERENCE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${path || "(root)"}: environment variable ${name} is not set`);
      return "";
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteEnv(item, `${path}[${i}]`, env, problems));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = substituteEnv(item, path ? `${path}.${key}` : key, env, problems);
    }
    return out;
  }
  return value;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(root)";
}

/** A client address as connection limits key it: IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as IPv4, IPv6 lower-case. */
export function normalizeClientAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** The default of listen.max_connections_per_ip: half of max_connections (see the schema). */
export function defaultMaxConnectionsPerIp(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}

/** `checkFiles`: also report every certificate, key and credentials file the config names that cannot be read. */
export interface LoadOptions {
  checkFiles?: boolean;
}

export function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [`cannot read file: ${(error as Error).message}`]);
  }
  return parseConfigText(text, file, env, options);
}

export function parseConfigText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): ProxyConfig {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.map((e) => `YAML syntax: ${e.message.split("\n")[0]}`),
    );
  }
  const problems: string[] = [];
  const substituted = substituteEnv(document.toJS() ?? {}, "", env, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return buildConfig(substituted, source, options);
}

export function buildConfig(input: unknown, source = "config", options: LoadOptions = {}): ProxyConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
    );
  }
  return normalize(result.data, source, options);
}

function normalize(raw: ParsedConfig, source: string, options: LoadOptions): ProxyConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const listen = parseHostPort(raw.listen.address);

  let advertisedHost = listen.host === "0.0.0.0" || listen.host === "::" ? "127.0.0.1" : listen.host;
  let advertisedBootstrapPort = listen.port;
  if (raw.listen.advertised_address) {
    const text = raw.listen.advertised_address;
    if (/:\d+$/.test(text)) {
      const parsed = parseHostPort(text);
      advertisedHost = parsed.host;
      advertisedBootstrapPort = parsed.port;
    } else {
      advertisedHost = text;
    }
  }

  const portBase = raw.listen.broker_port_base ?? listen.port + 1;
  const idBase = raw.listen.broker_id_base;
  const files: NamedFile[] = [];
  const upstream = normalizeUpstream(raw, problems, warnings, files);
  const highestNodeIdBase = Math.max(0, ...upstream.clusters.map((cluster) => cluster.nodeIdBase));
  const portCount =
    raw.listen.broker_port_count ??
    Math.max(DEFAULT_NODE_ID_STRIDE, highestNodeIdBase - idBase + DEFAULT_NODE_ID_STRIDE);
  const explicitPorts = new Map(Object.entries(raw.listen.broker_ports).map(([id, p]) => [Number(id), p]));
  const nodePortFor = (nodeId: number): number | undefined => {
    const explicit = explicitPorts.get(nodeId);
    if (explicit !== undefined) return explicit;
    const offset = nodeId - idBase;
    if (offset < 0 || offset >= portCount) return undefined;
    const port = portBase + offset;
    return port <= 65535 ? port : undefined;
  };
  if (portBase <= listen.port && listen.port < portBase + portCount) {
    problems.push(
      `listen.broker_port_base: broker ports ${portBase}-${portBase + portCount - 1} overlap the bootstrap port ${listen.port}`,
    );
  }

  const maxConnectionsPerIpOverrides = new Map<string, number>();
  for (const [address, cap] of Object.entries(raw.listen.max_connections_per_ip_overrides)) {
    if (isIP(address) === 0) {
      problems.push(
        `listen.max_connections_per_ip_overrides.${address}: not an IP address (host names are not resolved)`,
      );
    } else {
      maxConnectionsPerIpOverrides.set(normalizeClientAddress(address), cap);
    }
  }

  const clientSecurity = normalizeClientSecurity(raw.listen.security, problems, warnings, files);

  const partitionRules: PartitionRule[] = [];
  const mapping = raw.mapping;
  if (mapping) {
    if (mapping.offset_range !== undefined) {
      warnings.push(
        "mapping.offset_range is ignored: virtual partitions keep Kafka's own offsets, so no offset range exists",
      );
    }
    const resolveRule = (
      rule: { virtual_partitions?: number; physical_partitions?: number; ratio?: number },
      path: string,
    ) => {
      let virtualPartitions = rule.virtual_partitions ?? mapping.virtual_partitions;
      let physicalPartitions = rule.physical_partitions ?? mapping.physical_partitions;
      if (rule.ratio !== undefined) {
        if (virtualPartitions !== undefined && rule.physical_partitions === undefined) {
          physicalPartitions = virtualPartitions / rule.ratio;
        } else if (physicalPartitions !== undefined) {
          virtualPartitions = physicalPartitions * rule.ratio;
        }
      }
      if (virtualPartitions === undefined || physicalPartitions === undefined) {
        problems.push(`${path}: needs virtual_partitions and physical_partitions (or one of them and ratio)`);
        return undefined;
      }
      if (!Number.isInteger(physicalPartitions) || physicalPartitions < 1) {
        problems.push(`${path}: physical_partitions must be a positive integer`);
        return undefined;
      }
      if (virtualPartitions < physicalPartitions) {
        problems.push(
          `${path}: virtual_partitions (${virtualPartitions}) is less than physical_partitions (${physicalPartitions})`,
        );
        return undefined;
      }
      if (virtualPartitions % physicalPartitions !== 0) {
        problems.push(
          `${path}: virtual_partitions (${virtualPartitions}) must be a multiple of physical_partitions (${physicalPartitions})`,
        );
        return undefined;
      }
      return { virtualPartitions, physicalPartitions };
    };
    for (const [pattern, rule] of Object.entries(mapping.topics)) {
      const path = `mapping.topics.${pattern}`;
      const counts = resolveRule(rule, path);
      if (counts)
        partitionRules.push({ pattern: compileRegex(pattern, path, problems), source: pattern, ...counts });
    }
    if (mapping.virtual_partitions !== undefined || mapping.physical_partitions !== undefined) {
      const counts = resolveRule({}, "mapping");
      if (counts) partitionRules.push({ pattern: /^.*$/, source: "(default)", ...counts });
    }
  }
  const neverVirtualize = (mapping?.never_virtualize ?? []).map((p, i) =>
    compileRegex(p, `mapping.never_virtualize[${i}]`, problems),
  );

  const apiMaxVersions = new Map<number, number>();
  for (const [name, maxVersion] of Object.entries(raw.proxy.api_max_versions)) {
    const api = API_KEYS.find((candidate) => candidate.name === name);
    if (!api)
      problems.push(`proxy.api_max_versions.${name}: unknown API name (use Kafka's, e.g. Fetch, Metadata)`);
    else if (maxVersion < api.minVersion)
      problems.push(
        `proxy.api_max_versions.${name}: ${maxVersion} is below the oldest version ${api.minVersion}`,
      );
    else apiMaxVersions.set(api.apiKey, maxVersion);
  }

  const authorization = normalizeAuthorization(raw.authorization);
  if (authorization.enabled && clientSecurity.mode === "passthrough") {
    problems.push(
      "authorization: the proxy's rules apply in terminate mode; in passthrough the broker's ACLs decide (remove the section or set listen.security.mode: terminate)",
    );
  }
  if (clientSecurity.mode === "passthrough" && partitionRules.length > 0) {
    problems.push(
      "listen.security.mode: passthrough cannot be combined with mapping rules yet: virtualization sends requests on a client's behalf (companion-group commits, metadata) with the proxy's own credentials, which would let a client do what the broker's ACLs refuse it",
    );
  }
  if (options.checkFiles) problems.push(...unreadableFiles(files));
  if (problems.length > 0) throw new ConfigError(source, problems);

  return {
    raw,
    listen,
    advertisedHost,
    advertisedBootstrapPort,
    maxConnections: raw.listen.max_connections,
    maxConnectionsPerIp:
      raw.listen.max_connections_per_ip ?? defaultMaxConnectionsPerIp(raw.listen.max_connections),
    maxConnectionsPerIpOverrides,
    connectionsMaxIdleMs: raw.listen.connections_max_idle_ms,
    firstFrameTimeoutMs: raw.listen.first_frame_timeout_ms,
    clientSecurity,
    files,
    authorization,
    quotas: normalizeQuotas(raw.quotas),
    nodePortFor,
    departedBrokerLingerMs: Math.round(raw.listen.departed_broker_linger_secs * 1000),
    virtualCluster: {
      name: raw.virtual_cluster.name,
      clusterId: raw.virtual_cluster.cluster_id ?? undefined,
    },
    clusters: upstream.clusters,
    routing: upstream.routing,
    connectionTimeoutMs: upstream.connectionTimeoutMs,
    requestTimeoutMs: upstream.requestTimeoutMs,
    metadataRefreshMs: upstream.metadataRefreshMs,
    maxFrameBytes: raw.proxy.max_frame_bytes,
    maxInFlightBytes: raw.proxy.max_in_flight_bytes,
    maxInFlightRequests: raw.proxy.max_in_flight_requests,
    memoryBudgetBytes: raw.proxy.memory_budget_bytes,
    shutdownGraceMs: raw.proxy.shutdown_grace_ms,
    apiMaxVersions,
    chain: raw.proxy.chain ?? undefined,
    metrics: {
      enabled: raw.metrics.enabled,
      address: parseHostPort(raw.metrics.address),
      traffic: raw.metrics.traffic,
      maxTopicLabels: raw.metrics.max_topic_labels,
      maxClientLabels: raw.metrics.max_client_labels,
    },
    adminToken: raw.admin.token ?? undefined,
    logging: { level: raw.logging.level, json: raw.logging.json ?? raw.logging.format !== "text" },
    partitionRules,
    neverVirtualize,
    markerHeader: mapping?.marker_header ?? "__kpp_vp",
    keepMarker: mapping?.keep_marker ?? false,
    readAheadBytes: mapping?.read_ahead_bytes ?? 16 * 1024 * 1024,
    maxDecompressedBatchBytes: mapping?.max_decompressed_batch_bytes ?? 16 * 1024 * 1024,
    warnings,
  };
}

export type { RawConfig };
