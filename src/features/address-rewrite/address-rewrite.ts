import type { ClusterView } from "../../cluster/cluster-view.ts";
import type { ProxyConfig } from "../../config/load.ts";
import type { ExchangeContext, ResponseFeature } from "../../proxy/feature.ts";

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const FIND_COORDINATOR = 10;
const DESCRIBE_CLUSTER = 60;
const SHARE_FETCH = 78;
const SHARE_ACKNOWLEDGE = 79;

/** First versions whose responses carry leader endpoints (KIP-951 NodeEndpoints). */
const NODE_ENDPOINTS_FROM: Record<number, number> = {
  [PRODUCE]: 10,
  [FETCH]: 16,
  [SHARE_FETCH]: 0,
  [SHARE_ACKNOWLEDGE]: 0,
};

interface Endpoint {
  host: string;
  port: number;
}

/**
 * Rewrites every broker address a response names to the proxy's client-facing address for that broker, and
 * teaches the cluster view about brokers it sees, so their listeners exist before clients connect to them.
 */
export class AddressRewrite implements ResponseFeature {
  readonly name = "address-rewrite";
  readonly responseApiKeys = [
    PRODUCE,
    FETCH,
    METADATA,
    FIND_COORDINATOR,
    DESCRIBE_CLUSTER,
    SHARE_FETCH,
    SHARE_ACKNOWLEDGE,
  ];
  readonly tailOnlyApiKeys = [FETCH];
  private readonly config: ProxyConfig;
  private readonly cluster: ClusterView;

  constructor(config: ProxyConfig, cluster: ClusterView) {
    this.config = config;
    this.cluster = cluster;
  }

  wantsResponse(context: ExchangeContext): boolean {
    const from = NODE_ENDPOINTS_FROM[context.apiKey];
    return from === undefined || context.apiVersion >= from;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated response bodies
  onResponse(context: ExchangeContext, body: any): boolean {
    switch (context.apiKey) {
      case METADATA:
        return this.rewriteBrokers(context, body.brokers, "nodeId");
      case DESCRIBE_CLUSTER:
        return this.rewriteBrokers(context, body.brokers, "brokerId");
      case FIND_COORDINATOR:
        if (context.apiVersion >= 4) {
          let changed = false;
          for (const coordinator of body.coordinators ?? []) {
            if (this.rewriteOne(context, coordinator, coordinator.nodeId)) changed = true;
          }
          return changed;
        }
        return this.rewriteOne(context, body, body.nodeId);
      default:
        if (!body.nodeEndpoints || body.nodeEndpoints.length === 0) return false;
        return this.rewriteBrokers(context, body.nodeEndpoints, "nodeId");
    }
  }

  private rewriteBrokers(
    context: ExchangeContext,
    brokers: ({ host: string; port: number; rack?: string | null } & Record<string, unknown>)[] | undefined,
    idField: string,
  ): boolean {
    if (!brokers || brokers.length === 0) return false;
    this.cluster.learn(
      brokers.map((b) => ({
        nodeId: b[idField] as number,
        host: b.host,
        port: b.port,
        rack: b.rack ?? null,
      })),
    );
    let changed = false;
    for (const broker of brokers) {
      if (this.rewriteOne(context, broker, broker[idField] as number)) changed = true;
    }
    return changed;
  }

  private rewriteOne(context: ExchangeContext, endpoint: Endpoint, nodeId: number): boolean {
    if (nodeId < 0 || !endpoint.host) return false;
    if (!this.cluster.address(nodeId)) {
      this.cluster.learn([{ nodeId, host: endpoint.host, port: endpoint.port, rack: null }]);
    }
    const port = this.config.brokerPortFor(nodeId);
    if (port === undefined) {
      context.log.error(
        { nodeId },
        "broker id has no client-facing port; its upstream address is passed through",
      );
      return false;
    }
    if (endpoint.host === this.config.advertisedHost && endpoint.port === port) return false;
    endpoint.host = this.config.advertisedHost;
    endpoint.port = port;
    return true;
  }
}
