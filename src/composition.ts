import { ProxyMetrics } from "./admin/metrics.ts";
import { AdminApi } from "./admin/routes.ts";
import { ConfigError, type ProxyConfig } from "./config/load.ts";
import type { Feature } from "./feature-api/feature.ts";
import type { FeatureServices } from "./feature-api/services.ts";
import { NodeAddressing } from "./features/addressing/node-addressing.ts";
import { ApiVersionsClamp } from "./features/api-versions/api-versions-clamp.ts";
import { createAuthorization } from "./features/authorization/index.ts";
import { createFlowControl } from "./features/flow-control/index.ts";
import { createOffsetReset } from "./features/offset-reset/index.ts";
import { createRouting } from "./features/routing/index.ts";
import { createTraffic } from "./features/traffic/index.ts";
import { createVirtualization, VirtualizationRules } from "./features/virtualization/index.ts";
import type { Logger } from "./log/logger.ts";
import { SniNames } from "./net/sni-names.ts";
import { API_KEYS } from "./protocol/api.ts";
import { Chain } from "./proxy/chain.ts";
import { ChainClient } from "./proxy/chain-client.ts";
import { ProxyServer } from "./proxy/server.ts";
import { upstreamSecurity } from "./security/upstream-authentication.ts";
import { Topology } from "./topology/topology.ts";

export type { FeatureServices } from "./feature-api/services.ts";

/** Builds a feature for the chain; undefined when the config leaves it nothing to do. */
export type FeatureFactory = (services: FeatureServices) => Feature | undefined;

export const BUILT_IN_FEATURES: Readonly<Record<string, FeatureFactory>> = {
  traffic: createTraffic,
  authorization: ({ config, topology, log, onReload }) => {
    const authorizationLog = log.child({ component: "authorization" });
    if (!config.authorization.enabled) {
      onReload((reloaded) => {
        if (reloaded.authorization.enabled) authorizationLog.warn("enabling authorization needs a restart");
      });
      return undefined;
    }
    const feature = createAuthorization(config.authorization, authorizationLog, { topics: topology.topics });
    onReload((reloaded) => feature.update(reloaded.authorization));
    return feature;
  },
  "flow-control": createFlowControl,
  "offset-reset": createOffsetReset,
  virtualization: ({ config, topology, log, onReload, metrics }) => {
    const rules = new VirtualizationRules(config.partitionRules, config.neverVirtualize);
    if (rules.isEmpty) return undefined;
    onReload((reloaded) => rules.replace(reloaded.partitionRules, reloaded.neverVirtualize));
    return createVirtualization({
      rules,
      topics: topology.topics,
      coordinators: topology.coordinators,
      admin: topology.admin,
      markerHeader: config.markerHeader,
      keepMarker: config.keepMarker,
      readAheadBytes: config.readAheadBytes,
      maxDecompressedBatchBytes: config.maxDecompressedBatchBytes,
      log: log.child({ component: "virtualization" }),
      counters: metrics.virtualization,
    });
  },
  routing: ({ topology }) => createRouting(topology),
  "node-addressing": ({ topology }) => new NodeAddressing(topology),
  "api-versions": ({ config }) => new ApiVersionsClamp(config.apiMaxVersions),
};

/** The chain when the config names none: from the client towards the brokers. */
export const DEFAULT_CHAIN: readonly string[] = [
  "traffic",
  "authorization",
  "flow-control",
  "offset-reset",
  "virtualization",
  "routing",
  "node-addressing",
  "api-versions",
];
/** Features every chain holds: without them clients would be sent to the brokers themselves. */
const REQUIRED_FEATURES: readonly string[] = ["node-addressing", "api-versions"];

/** The SNI host names of the config's single TLS port, when it has one (listen.security.tls.sni). */
function sniNames(config: ProxyConfig): SniNames | undefined {
  const sni = config.clientSecurity.tls?.sni;
  return sni && new SniNames(sni.bootstrapHost, sni.brokerHostPattern);
}

/** `sni`: the names of a single TLS port for every broker, which then name the nodes in responses. */
export function createTopology(config: ProxyConfig, log: Logger, sni = sniNames(config)): Topology {
  return new Topology({
    virtualClusterName: config.virtualCluster.name,
    clusterId: config.virtualCluster.clusterId,
    routing: config.routing,
    clusters: config.clusters.map((cluster) => ({
      ...cluster,
      security: upstreamSecurity(
        cluster.security,
        log.child({ component: "upstream-auth", cluster: cluster.name }),
      ),
    })),
    endpointOf: (nodeId) => {
      if (sni) return { host: sni.hostOf(nodeId), port: config.advertisedBootstrapPort };
      const port = config.nodePortFor(nodeId);
      return port === undefined ? undefined : { host: config.advertisedHost, port };
    },
    connectTimeoutMs: config.connectionTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    refreshIntervalMs: config.metadataRefreshMs,
    departedLingerMs: config.departedBrokerLingerMs,
    log: log.child({ component: "topology" }),
  });
}

/**
 * The composition root: builds the topology, the features named by `proxy.chain` in its order, and the
 * runtime that serves them. `factories` adds features to the ones built in (by name).
 */
export function composeProxy(
  config: ProxyConfig,
  log: Logger,
  factories: Readonly<Record<string, FeatureFactory>> = {},
): ProxyServer {
  const available = { ...BUILT_IN_FEATURES, ...factories };
  const names = config.chain ?? DEFAULT_CHAIN;
  const problems: string[] = [];
  names.forEach((name, i) => {
    if (!available[name]) {
      problems.push(
        `proxy.chain[${i}]: unknown feature "${name}" (known: ${Object.keys(available).join(", ")})`,
      );
    } else if (names.indexOf(name) !== i) {
      problems.push(`proxy.chain[${i}]: "${name}" is already in the chain`);
    }
  });
  for (const required of REQUIRED_FEATURES) {
    if (!names.includes(required)) problems.push(`proxy.chain: must include "${required}"`);
  }
  if (config.clusters.length > 1 && !names.includes("routing")) {
    problems.push(`proxy.chain: must include "routing" when several clusters are configured`);
  }
  if (problems.length > 0) throw new ConfigError("the config", problems);
  const sni = sniNames(config);
  const topology = createTopology(config, log, sni);
  const reloads: ((config: ProxyConfig) => void)[] = [];
  const stops: (() => void)[] = [];
  const apiNames = new Map(API_KEYS.map((api) => [api.apiKey as number, api.name]));
  const metrics = new ProxyMetrics((apiKey) => apiNames.get(apiKey) ?? `api-${apiKey}`);
  metrics.watchClusters(() => topology.health());
  topology.countConnections((cluster) => metrics.upstream(cluster));
  metrics.maxClientConnections.set(config.maxConnections);
  const admin = new AdminApi(config.adminToken);
  const requests = new ChainClient(topology, log.child({ component: "internal-requests" }));
  const services: FeatureServices = {
    config,
    topology,
    log,
    metrics,
    admin,
    requests,
    onReload: (listener) => reloads.push(listener),
    onStop: (listener) => stops.push(listener),
  };
  const features: Feature[] = [];
  for (const name of names) {
    const feature = available[name]!(services);
    if (feature) features.push(feature);
  }
  const chain = new Chain(features);
  requests.bind(chain);
  const server = new ProxyServer(config, log, chain, topology, {
    sni,
    metrics,
    admin,
    requests,
    layoutsOf: (rules) => {
      const layouts = new VirtualizationRules(rules.partitionRules, rules.neverVirtualize);
      return (topic) => layouts.layoutOf(topic);
    },
  });
  server.onReload((reloaded) => {
    admin.setToken(reloaded.adminToken);
    for (const reload of reloads) reload(reloaded);
  });
  server.onStop(() => {
    for (const stop of stops) stop();
  });
  return server;
}
