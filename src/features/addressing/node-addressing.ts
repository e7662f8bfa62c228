import type { ApiHandler, ApiHandlers, ExchangeInfo, Feature } from "../../feature-api/feature.ts";
import { ApiKey, firstVersion, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import type { Topology } from "../../topology/topology.ts";
import type { UpstreamBroker } from "../../topology/upstream-cluster.ts";

interface Endpoint {
  host: string;
  port: number;
}

const PRODUCE_LEADERS = firstVersion("ProduceResponse", "responses.partitionResponses.currentLeader");
const FETCH_READ_REPLICAS = firstVersion("FetchResponse", "responses.partitions.preferredReadReplica");
const FETCH_ENDPOINTS = firstVersion("FetchResponse", "nodeEndpoints");
const API_VERSIONS_NAMING_THE_CLUSTER = firstVersion("ApiVersionsRequest", "clusterId");

/**
 * Presents the virtual cluster: every node id a response names becomes the topology's virtual node id, every
 * broker address the client-facing address of that node, and every cluster id the virtual cluster's. Brokers
 * seen on the way teach the topology, so their listeners exist before clients connect to them.
 *
 * While virtual node ids equal the upstream ids (one cluster, node id base 0), only addresses and cluster ids
 * change, and Fetch responses keep streaming up to their tagged fields.
 */
export class NodeAddressing implements Feature {
  readonly name = "node-addressing";
  readonly handlers: ApiHandlers;
  private readonly topology: Topology;
  private readonly renumbers: boolean;

  constructor(topology: Topology) {
    this.topology = topology;
    this.renumbers = !topology.nodeIds.areUpstreamIds;
    const fetch: ApiHandler<typeof ApiKey.Fetch> = {
      wantsResponse: (exchange) =>
        exchange.apiVersion >= (this.renumbersFor(exchange) ? FETCH_READ_REPLICAS : FETCH_ENDPOINTS),
      onResponse: (response, exchange) => this.fetch(response, exchange),
      changesOnlyTaggedFields: (exchange) => !this.renumbersFor(exchange),
    };
    this.handlers = {
      [ApiKey.ApiVersions]: {
        wantsRequest: (_frame, exchange) => exchange.apiVersion >= API_VERSIONS_NAMING_THE_CLUSTER,
        onRequest: (request, context) => context.next(this.apiVersions(request, this.clusterOf(context))),
      },
      [ApiKey.Metadata]: { onResponse: (response, exchange) => this.metadata(response, exchange) },
      [ApiKey.DescribeCluster]: {
        onResponse: (response, exchange) => this.describeCluster(response, exchange),
      },
      [ApiKey.FindCoordinator]: {
        onResponse: (response, exchange) => this.findCoordinator(response, exchange),
      },
      [ApiKey.DescribeTopicPartitions]: {
        wantsResponse: () => this.renumbers,
        onResponse: (response, exchange) => this.describeTopicPartitions(response, exchange),
      },
      [ApiKey.Produce]: {
        wantsResponse: (exchange) => exchange.apiVersion >= PRODUCE_LEADERS,
        onResponse: (response, exchange) => this.produce(response, exchange),
      },
      [ApiKey.Fetch]: fetch,
      [ApiKey.ShareFetch]: { onResponse: (response, exchange) => this.shareResponse(response, exchange) },
      [ApiKey.ShareAcknowledge]: {
        onResponse: (response, exchange) => this.shareResponse(response, exchange),
      },
    };
  }

  /**
   * Whether the node ids of this exchange's response change: not for a cluster whose node id base is 0 (its
   * virtual ids are its own), so that cluster's Fetch responses keep streaming.
   */
  private renumbersFor(exchange: ExchangeInfo): boolean {
    return this.renumbers && this.topology.nodeIds.baseOf(this.clusterOf(exchange)) !== 0;
  }

  /** The upstream cluster whose broker answers the exchange. */
  private clusterOf(exchange: ExchangeInfo): string {
    return this.topology.clusterOfNode(exchange.nodeId);
  }

  private nodeId(upstreamId: number, cluster: string): number {
    return this.renumbers ? this.topology.virtualNodeId(cluster, upstreamId) : upstreamId;
  }

  private nodeIds(upstreamIds: number[], cluster: string): number[] {
    return this.renumbers ? upstreamIds.map((id) => this.nodeId(id, cluster)) : upstreamIds;
  }

  /**
   * A KRaft broker names a random live broker as the controller (any broker forwards controller requests), so
   * the virtual cluster names its lowest-numbered node instead, the same on every instance and every request.
   */
  private controllerId(
    upstreamControllerId: number,
    lowestNodeId: number | undefined,
    cluster: string,
  ): number {
    if (upstreamControllerId < 0) return upstreamControllerId;
    return lowestNodeId ?? this.nodeId(upstreamControllerId, cluster);
  }

  private clusterId(upstreamClusterId: string | null, cluster: string): string | null {
    this.topology.learnUpstreamClusterId(cluster, upstreamClusterId);
    return this.topology.clusterId ?? upstreamClusterId;
  }

  /**
   * A client that names the cluster and node it means to reach (KIP-1242) names the virtual ones; the broker
   * checks them against its own, so they are translated. A cluster id that is not the virtual cluster's is left
   * for the broker to refuse.
   */
  private apiVersions(
    request: RequestOf<typeof ApiKey.ApiVersions>,
    cluster: string,
  ): RequestOf<typeof ApiKey.ApiVersions> {
    const clusterId = this.topology.clusterId;
    if (request.clusterId !== null && clusterId !== undefined && request.clusterId === clusterId) {
      request.clusterId = this.topology.cluster(cluster)?.clusterId ?? request.clusterId;
    }
    if (request.nodeId >= 0) {
      const upstream = this.topology.nodeIds.upstreamOf(request.nodeId);
      request.nodeId = upstream ? upstream.nodeId : request.nodeId;
    }
    return request;
  }

  private metadata(response: ResponseOf<typeof ApiKey.Metadata>, exchange: ExchangeInfo): boolean {
    const cluster = this.clusterOf(exchange);
    response.clusterId = this.clusterId(response.clusterId, cluster);
    this.brokers(response.brokers, exchange, cluster);
    response.brokers.sort((a, b) => a.nodeId - b.nodeId);
    response.controllerId = this.controllerId(response.controllerId, response.brokers[0]?.nodeId, cluster);
    if (this.renumbers) {
      for (const topic of response.topics) {
        for (const partition of topic.partitions) this.renumberReplicas(partition, cluster);
      }
    }
    return true;
  }

  private describeCluster(
    response: ResponseOf<typeof ApiKey.DescribeCluster>,
    exchange: ExchangeInfo,
  ): boolean {
    const cluster = this.clusterOf(exchange);
    response.clusterId = this.clusterId(response.clusterId, cluster) ?? response.clusterId;
    this.learn(
      response.brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
      cluster,
    );
    for (const broker of response.brokers) {
      this.endpoint(broker, broker.brokerId, exchange, cluster);
      broker.brokerId = this.nodeId(broker.brokerId, cluster);
    }
    response.brokers.sort((a, b) => a.brokerId - b.brokerId);
    response.controllerId = this.controllerId(response.controllerId, response.brokers[0]?.brokerId, cluster);
    return true;
  }

  private findCoordinator(
    response: ResponseOf<typeof ApiKey.FindCoordinator>,
    exchange: ExchangeInfo,
  ): boolean {
    const cluster = this.clusterOf(exchange);
    let changed = false;
    if (response.coordinators.length > 0) {
      for (const coordinator of response.coordinators) {
        if (this.endpoint(coordinator, coordinator.nodeId, exchange, cluster)) changed = true;
        coordinator.nodeId = this.nodeId(coordinator.nodeId, cluster);
      }
      return changed || this.renumbersFor(exchange);
    }
    changed = this.endpoint(response, response.nodeId, exchange, cluster);
    response.nodeId = this.nodeId(response.nodeId, cluster);
    return changed || this.renumbersFor(exchange);
  }

  private describeTopicPartitions(
    response: ResponseOf<typeof ApiKey.DescribeTopicPartitions>,
    exchange: ExchangeInfo,
  ): boolean {
    const cluster = this.clusterOf(exchange);
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        this.renumberReplicas(partition, cluster);
        if (partition.eligibleLeaderReplicas) {
          partition.eligibleLeaderReplicas = this.nodeIds(partition.eligibleLeaderReplicas, cluster);
        }
        if (partition.lastKnownElr) partition.lastKnownElr = this.nodeIds(partition.lastKnownElr, cluster);
      }
    }
    return true;
  }

  private renumberReplicas(
    partition: { leaderId: number; replicaNodes: number[]; isrNodes: number[]; offlineReplicas: number[] },
    cluster: string,
  ): void {
    partition.leaderId = this.nodeId(partition.leaderId, cluster);
    partition.replicaNodes = this.nodeIds(partition.replicaNodes, cluster);
    partition.isrNodes = this.nodeIds(partition.isrNodes, cluster);
    partition.offlineReplicas = this.nodeIds(partition.offlineReplicas, cluster);
  }

  private produce(response: ResponseOf<typeof ApiKey.Produce>, exchange: ExchangeInfo): boolean {
    const cluster = this.clusterOf(exchange);
    if (this.renumbersFor(exchange)) {
      for (const topic of response.responses) {
        for (const partition of topic.partitionResponses) {
          partition.currentLeader.leaderId = this.nodeId(partition.currentLeader.leaderId, cluster);
        }
      }
    }
    return this.brokers(response.nodeEndpoints, exchange, cluster) || this.renumbersFor(exchange);
  }

  private fetch(response: ResponseOf<typeof ApiKey.Fetch>, exchange: ExchangeInfo): boolean {
    const cluster = this.clusterOf(exchange);
    if (this.renumbersFor(exchange) && response.responses) {
      for (const topic of response.responses) {
        for (const partition of topic.partitions) {
          partition.currentLeader.leaderId = this.nodeId(partition.currentLeader.leaderId, cluster);
          partition.preferredReadReplica = this.nodeId(partition.preferredReadReplica, cluster);
        }
      }
    }
    return this.brokers(response.nodeEndpoints, exchange, cluster) || this.renumbersFor(exchange);
  }

  private shareResponse(
    response: ResponseOf<typeof ApiKey.ShareFetch> | ResponseOf<typeof ApiKey.ShareAcknowledge>,
    exchange: ExchangeInfo,
  ): boolean {
    const cluster = this.clusterOf(exchange);
    if (this.renumbers) {
      for (const topic of response.responses) {
        for (const partition of topic.partitions) {
          partition.currentLeader.leaderId = this.nodeId(partition.currentLeader.leaderId, cluster);
        }
      }
    }
    return this.brokers(response.nodeEndpoints, exchange, cluster) || this.renumbersFor(exchange);
  }

  /** Renames brokers (upstream ids) to virtual nodes with client-facing addresses, teaching the topology. */
  private brokers(
    brokers: (Endpoint & { nodeId: number; rack?: string | null })[] | undefined,
    exchange: ExchangeInfo,
    cluster: string,
  ): boolean {
    if (!brokers || brokers.length === 0) return false;
    this.learn(
      brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null })),
      cluster,
    );
    let changed = false;
    for (const broker of brokers) {
      if (this.endpoint(broker, broker.nodeId, exchange, cluster)) changed = true;
      broker.nodeId = this.nodeId(broker.nodeId, cluster);
    }
    return changed || this.renumbersFor(exchange);
  }

  private learn(brokers: UpstreamBroker[], cluster: string): void {
    this.topology.learnBrokers(cluster, brokers);
  }

  /** Points an endpoint of upstream node `upstreamId` at its virtual node's client-facing address. */
  private endpoint(endpoint: Endpoint, upstreamId: number, exchange: ExchangeInfo, cluster: string): boolean {
    if (upstreamId < 0 || !endpoint.host) return false;
    if (!this.topology.cluster(cluster)?.broker(upstreamId)) {
      this.learn([{ nodeId: upstreamId, host: endpoint.host, port: endpoint.port, rack: null }], cluster);
    }
    const nodeId = this.nodeId(upstreamId, cluster);
    const address = this.topology.endpointOf(nodeId);
    if (!address) {
      exchange.log.error(
        { nodeId },
        "node has no client-facing port; its upstream address is passed through",
      );
      return false;
    }
    if (endpoint.host === address.host && endpoint.port === address.port) return false;
    endpoint.host = address.host;
    endpoint.port = address.port;
    return true;
  }
}
