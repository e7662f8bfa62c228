import type { ProxyConfig } from "../../config/load.ts";
import type { ProxyRequests } from "../../feature-api/services.ts";
import type { Logger } from "../../log/logger.ts";
import type { Topology } from "../../topology/topology.ts";
import { registerDashboard } from "../dashboard/index.ts";
import type { ProxyMetrics } from "../metrics.ts";
import type { AdminApi } from "../routes.ts";
import { type ConnectionSource, describeConnections } from "./connections.ts";
import { GroupsInspector } from "./groups.ts";
import { DEFAULT_MAX_LAG_SERIES, registerLagMetrics } from "./lag-metrics.ts";
import { redactConfig } from "./redact.ts";
import { describeTopics } from "./topics.ts";

/** What the admin API reads: the runtime's parts. */
export interface AdminApiSources {
  readonly config: ProxyConfig;
  readonly topology: Topology;
  readonly requests: ProxyRequests;
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  /** The open client connections, now. */
  connections(): Iterable<ConnectionSource>;
}

/**
 * The read-only admin API (docs/admin-api.md) and the dashboard: config (secrets redacted), topics and their
 * virtual-to-physical mapping, client connections, consumer groups with their lag, and a metadata refresh (the
 * one call here that changes state, so it needs the admin token). Also publishes the lag to Prometheus.
 * Returns what takes a reloaded config.
 */
export function registerAdminApi(admin: AdminApi, sources: AdminApiSources): (reloaded: ProxyConfig) => void {
  const { topology, requests, log } = sources;
  let config = sources.config;
  const groups = new GroupsInspector(topology, requests, log);
  admin.get("/api/config", () => ({ json: redactConfig(config.raw) }));
  admin.get("/api/topics", async () => ({ json: await describeTopics(config, topology, requests) }));
  admin.get("/api/connections", () => ({
    json: { connections: describeConnections(sources.connections()) },
  }));
  admin.get("/api/groups", async () => ({ json: { groups: await groups.describeAll() } }));
  admin.get("/api/groups/{group}", async (request) => ({
    json: await groups.describe(request.params.group!),
  }));
  admin.post("/api/metadata/refresh", async () => {
    const started = Date.now();
    const results = await Promise.allSettled(
      topology.clusterNames.map((name) => topology.cluster(name)?.refresh()),
    );
    return {
      json: {
        refreshed: topology.clusterNames.map((name, i) => ({
          cluster: name,
          ok: results[i]!.status === "fulfilled",
          error:
            results[i]!.status === "rejected" ? String((results[i] as PromiseRejectedResult).reason) : null,
        })),
        tookMs: Date.now() - started,
        clusters: topology.health(),
      },
    };
  });
  registerLagMetrics(
    sources.metrics.registry,
    groups,
    () => config.raw.metrics.max_lag_series ?? DEFAULT_MAX_LAG_SERIES,
    log,
  );
  registerDashboard(admin);
  return (next) => {
    config = next;
  };
}
