import type { ProxyMetrics } from "../admin/metrics.ts";
import type { AdminApi } from "../admin/routes.ts";
import type { ProxyConfig } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/api.ts";
import type { VersionBounds } from "../topology/api-versions.ts";
import type { Topology } from "../topology/topology.ts";

export interface ProxyRequestOptions {
  /** The virtual node that answers; some node of the default cluster when absent. */
  nodeId?: number;
  /** The version to send; the newest both the node's broker and the proxy speak when absent. */
  apiVersion?: number;
  versions?: VersionBounds;
}

/**
 * The proxy's own requests in the clients' view: through every feature of the chain, as a client's would go,
 * so they see virtual partitions, merged clusters and virtual node ids.
 */
export interface ProxyRequests {
  request<K extends ApiKey>(
    apiKey: K,
    request: RequestOf<K>,
    options?: ProxyRequestOptions,
  ): Promise<ResponseOf<K>>;
}

/** What a feature is built from. */
export interface FeatureServices {
  readonly config: ProxyConfig;
  readonly topology: Topology;
  readonly log: Logger;
  /** The Prometheus registry and the runtime's counters. */
  readonly metrics: ProxyMetrics;
  /** The admin API, where a feature adds its routes. */
  readonly admin: AdminApi;
  /** The proxy's own requests, through the whole chain. */
  readonly requests: ProxyRequests;
  /** Registers what a feature takes from a reloaded config file without a restart. */
  onReload(listener: (config: ProxyConfig) => void): void;
  /** Registers what a feature ends (timers, exchanges with peers) when the proxy stops. */
  onStop(listener: () => void): void;
}
