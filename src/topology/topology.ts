import { EventEmitter } from "node:events";
import type { RoutingSettings } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { BrokerAddress, UpstreamConnectionCounters, UpstreamSecurity } from "../net/upstream.ts";
import { ApiKey, firstVersion } from "../protocol/api.ts";
import { AdminClient } from "./admin-client.ts";
import type { BrokerVersions } from "./api-versions.ts";
import { derivedClusterId } from "./cluster-identity.ts";
import { ClusterRouting } from "./cluster-routing.ts";
import { GroupCoordinators } from "./group-coordinators.ts";
import { TopicDirectory } from "./topics.ts";
import {
  type ClusterDescription,
  type ClusterHealth,
  type UpstreamBroker,
  UpstreamCluster,
} from "./upstream-cluster.ts";
import { type UpstreamNodeRef, VirtualNodeIds } from "./virtual-nodes.ts";

const WITH_CLUSTER_ID = { min: firstVersion("MetadataResponse", "clusterId") };

export interface UpstreamClusterConfig {
  /** The cluster's name in the config. */
  name: string;
  bootstrapServers: BrokerAddress[];
  /** Virtual node id of the cluster's node 0. */
  nodeIdBase: number;
  /** TLS and SASL for every connection to the cluster's brokers; plain TCP when absent. */
  security?: UpstreamSecurity;
}

export interface TopologyOptions {
  /** The virtual cluster's name, part of its derived cluster id. */
  virtualClusterName: string;
  /** The cluster id clients see; derived from the name and the upstream cluster ids when absent. */
  clusterId: string | undefined;
  /** Every upstream cluster; the first is the default, where requests that name no topic go. */
  clusters: UpstreamClusterConfig[];
  /** Which cluster each topic, group and transactional id belongs to; everything on the first when absent. */
  routing?: RoutingSettings;
  /** The client-facing address of a virtual node: the advertised host and the node's port. */
  endpointOf(nodeId: number): BrokerAddress | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  refreshIntervalMs: number;
  departedLingerMs: number;
  log: Logger;
}

/** A node of the virtual cluster, and the upstream broker it stands for. */
export interface VirtualNode {
  readonly nodeId: number;
  readonly upstream: UpstreamNodeRef;
  /** The upstream broker's own address. */
  readonly address: BrokerAddress;
  readonly rack: string | null;
  readonly live: boolean;
}

/**
 * The virtual cluster clients see, over the upstream clusters behind it: its cluster id, its nodes (each an
 * upstream broker under a virtual node id), the topics and group coordinators of the clusters, and the one
 * admin client the proxy's own requests go through. Emits "nodes" when the set of nodes changes.
 */
export class Topology extends EventEmitter {
  readonly nodeIds: VirtualNodeIds;
  readonly admin: AdminClient;
  readonly topics: TopicDirectory;
  readonly coordinators: GroupCoordinators;
  readonly routing: ClusterRouting;
  private readonly clusters = new Map<string, UpstreamCluster>();
  private readonly defaultCluster: UpstreamCluster;
  private readonly options: TopologyOptions;
  private readonly lastVersions = new Map<string, BrokerVersions>();
  private readonly coordinatorsByCluster = new Map<string, GroupCoordinators>();
  private derivedId: string | undefined;

  constructor(options: TopologyOptions) {
    super();
    this.options = options;
    this.nodeIds = new VirtualNodeIds(
      options.clusters.map((cluster) => ({ cluster: cluster.name, nodeIdBase: cluster.nodeIdBase })),
    );
    for (const config of options.clusters) {
      const cluster = new UpstreamCluster({
        name: config.name,
        bootstrapServers: config.bootstrapServers,
        describe: (address) => this.describeCluster(address, config.security),
        refreshIntervalMs: options.refreshIntervalMs,
        departedLingerMs: options.departedLingerMs,
        log: options.log,
      });
      cluster.on("brokers", () => this.emit("nodes"));
      cluster.on("cluster-id", () => {
        this.derivedId = undefined;
      });
      this.clusters.set(config.name, cluster);
    }
    this.defaultCluster = this.clusters.get(options.clusters[0]!.name)!;
    this.admin = new AdminClient(
      {
        route: (nodeId) => {
          const node = this.node(nodeId);
          return (
            node && {
              address: node.address,
              key: `${node.upstream.cluster}/${node.upstream.nodeId}`,
              security: this.securityOf(node.upstream.cluster),
              counters: this.connectionCounters?.(node.upstream.cluster),
            }
          );
        },
        anyNodeId: () => this.anyNodeOf(this.defaultCluster.name),
      },
      {
        connectTimeoutMs: options.connectTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
        log: options.log.child({ component: "admin-client" }),
      },
    );
    const names = options.clusters.map((cluster) => cluster.name);
    this.routing = new ClusterRouting(
      names,
      options.routing ?? { defaultCluster: names[0]!, topics: [], groups: [], transactionalIds: [] },
      options.log.child({ component: "routing" }),
    );
    const anyNodeOf = (cluster: string) => this.anyNodeOf(cluster);
    this.topics = new TopicDirectory(this.admin, options.log, {
      clusters: names,
      clusterOfTopic: (topic) => this.routing.clusterOfTopic(topic),
      owns: (cluster, topic) => this.routing.owns(cluster, topic),
      anyNodeOf,
    });
    this.coordinators = new GroupCoordinators(
      this.admin,
      (upstreamId, cluster) => this.nodeIds.virtualId(cluster ?? this.defaultCluster.name, upstreamId),
      options.log,
      this.routing.isSingleCluster
        ? undefined
        : { homeOf: (group) => this.routing.homeOfGroup(group), anyNodeOf },
    );
  }

  /** Counts the proxy's broker connections per cluster (see `countConnections`). */
  private connectionCounters: ((cluster: string) => UpstreamConnectionCounters) | undefined;

  /** Has every broker connection to a node (the proxy's shared ones, and clients' own) counted per cluster. */
  countConnections(countersOf: (cluster: string) => UpstreamConnectionCounters): void {
    this.connectionCounters = countersOf;
  }

  /** The counters of the connections to a virtual node's cluster, if connections are counted. */
  connectionCountersFor(nodeId: number | undefined): UpstreamConnectionCounters | undefined {
    return this.connectionCounters?.(this.clusterOfNode(nodeId));
  }

  get clusterNames(): readonly string[] {
    return this.routing.clusters;
  }

  /**
   * Group coordinators on one cluster whatever the groups' home: where a group's offsets for that cluster's
   * topics are kept.
   */
  coordinatorsOn(cluster: string): GroupCoordinators {
    let coordinators = this.coordinatorsByCluster.get(cluster);
    if (!coordinators) {
      coordinators = new GroupCoordinators(
        this.admin,
        (upstreamId) => this.nodeIds.virtualId(cluster, upstreamId),
        this.options.log,
        { homeOf: () => cluster, anyNodeOf: (name) => this.anyNodeOf(name) },
      );
      this.coordinatorsByCluster.set(cluster, coordinators);
    }
    return coordinators;
  }

  /** Some live node of a cluster (virtual id), undefined while none is known. */
  anyNodeOf(cluster: string): number | undefined {
    const upstream = this.clusters.get(cluster);
    const upstreamId = upstream?.anyNodeId();
    return upstreamId === undefined ? undefined : this.nodeIds.virtualId(cluster, upstreamId);
  }

  /**
   * The versions some broker of `cluster` speaks: asked of a live broker, else the last answer (a cluster that is
   * down keeps its versions); undefined when no broker of it was ever reached.
   */
  async versionsOfCluster(cluster: string): Promise<BrokerVersions | undefined> {
    const nodeId = this.anyNodeOf(cluster);
    if (nodeId !== undefined) {
      try {
        const versions = await this.admin.versionsOf(nodeId);
        this.lastVersions.set(cluster, versions);
        return versions;
      } catch {
        // the last answer stands
      }
    }
    return this.lastVersions.get(cluster);
  }

  /** The versions `cluster` was last seen to speak, without asking (undefined before the first answer). */
  knownVersionsOf(cluster: string): BrokerVersions | undefined {
    return this.lastVersions.get(cluster);
  }

  /** The cluster of a virtual node; the default cluster for undefined (the bootstrap listener). */
  clusterOfNode(nodeId: number | undefined): string {
    if (nodeId === undefined || this.clusters.size === 1) return this.defaultCluster.name;
    return this.nodeIds.upstreamOf(nodeId)?.cluster ?? this.defaultCluster.name;
  }

  get defaultClusterName(): string {
    return this.defaultCluster.name;
  }

  get isReady(): boolean {
    for (const cluster of this.clusters.values()) if (!cluster.isReady) return false;
    return true;
  }

  /** Every cluster's metadata answers now (its last refresh succeeded). */
  get isReachable(): boolean {
    for (const cluster of this.clusters.values()) if (!cluster.isReachable) return false;
    return true;
  }

  /** Each upstream cluster's health, by name. */
  health(): Record<string, ClusterHealth> {
    return Object.fromEntries([...this.clusters].map(([name, cluster]) => [name, cluster.health()]));
  }

  /**
   * The id clients see: the configured one, or one derived from the virtual cluster's name and the upstream
   * cluster ids; undefined until every upstream cluster's id is known.
   */
  get clusterId(): string | undefined {
    if (this.options.clusterId) return this.options.clusterId;
    if (this.derivedId) return this.derivedId;
    const upstreamIds: string[] = [];
    for (const cluster of this.clusters.values()) {
      if (!cluster.clusterId) return undefined;
      upstreamIds.push(cluster.clusterId);
    }
    this.derivedId = derivedClusterId(this.options.virtualClusterName, upstreamIds);
    return this.derivedId;
  }

  cluster(name: string): UpstreamCluster | undefined {
    return this.clusters.get(name);
  }

  /** The virtual node id of an upstream node. */
  virtualNodeId(cluster: string, upstreamNodeId: number): number {
    return this.nodeIds.virtualId(cluster, upstreamNodeId);
  }

  node(nodeId: number): VirtualNode | undefined {
    const upstream = this.nodeIds.upstreamOf(nodeId);
    if (!upstream) return undefined;
    const cluster = this.clusters.get(upstream.cluster);
    const broker = cluster?.broker(upstream.nodeId);
    if (!cluster || !broker) return undefined;
    return this.virtualNode(cluster, broker);
  }

  /** Every node that keeps a listener (live, or lingering after it left), by virtual id. */
  nodes(): VirtualNode[] {
    const nodes: VirtualNode[] = [];
    for (const cluster of this.clusters.values()) {
      for (const broker of cluster.listenable()) nodes.push(this.virtualNode(cluster, broker));
    }
    return nodes.sort((a, b) => a.nodeId - b.nodeId);
  }

  /** The client-facing address of a virtual node. */
  endpointOf(nodeId: number): BrokerAddress | undefined {
    return this.options.endpointOf(nodeId);
  }

  /** How connections to a cluster's brokers are secured (undefined: plain TCP). */
  securityOf(cluster: string): UpstreamSecurity | undefined {
    return this.options.clusters.find((candidate) => candidate.name === cluster)?.security;
  }

  /** How connections to the broker behind a virtual node (any of the default cluster's when undefined) are secured. */
  securityFor(nodeId: number | undefined): UpstreamSecurity | undefined {
    if (nodeId === undefined) return this.securityOf(this.defaultCluster.name);
    const node = this.node(nodeId);
    return node && this.securityOf(node.upstream.cluster);
  }

  /** Where a client connection's requests go: the node's broker, or some broker of the default cluster. */
  addressFor(nodeId: number | undefined): BrokerAddress | undefined {
    if (nodeId === undefined) return this.defaultCluster.anyAddress();
    return this.node(nodeId)?.address;
  }

  /** Brokers named in a response from `cluster`, by their upstream ids. */
  learnBrokers(cluster: string, brokers: Iterable<UpstreamBroker>): void {
    this.clusters.get(cluster)?.learn(brokers);
  }

  learnUpstreamClusterId(cluster: string, clusterId: string | null): void {
    this.clusters.get(cluster)?.learnClusterId(clusterId);
  }

  async start(): Promise<void> {
    await Promise.all([...this.clusters.values()].map((cluster) => cluster.start()));
    await Promise.all(this.clusterNames.map((cluster) => this.versionsOfCluster(cluster)));
  }

  stop(): void {
    for (const cluster of this.clusters.values()) cluster.stop();
    this.admin.close();
  }

  /** The cluster's id and brokers, as the broker at `address` reports them (upstream node ids). */
  private async describeCluster(
    address: BrokerAddress,
    security: UpstreamSecurity | undefined,
  ): Promise<ClusterDescription> {
    const response = await this.admin.requestToAddress(
      address,
      ApiKey.Metadata,
      {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      WITH_CLUSTER_ID,
      security,
    );
    return {
      clusterId: response.clusterId,
      brokers: response.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
    };
  }

  private virtualNode(cluster: UpstreamCluster, broker: UpstreamBroker): VirtualNode {
    return {
      nodeId: this.nodeIds.virtualId(cluster.name, broker.nodeId),
      upstream: { cluster: cluster.name, nodeId: broker.nodeId },
      address: { host: broker.host, port: broker.port },
      rack: broker.rack,
      live: cluster.isLive(broker.nodeId),
    };
  }
}
