/** Where a virtual node lives: an upstream cluster (by its name in the config) and that cluster's node id. */
export interface UpstreamNodeRef {
  readonly cluster: string;
  readonly nodeId: number;
}

export interface ClusterNodeIds {
  readonly cluster: string;
  /** Virtual node id of the cluster's node 0: virtual id = base + upstream node id. */
  readonly nodeIdBase: number;
}

/**
 * Virtual node ids: each upstream cluster's nodes are numbered from the cluster's base, so ids are a pure
 * function of the config and the upstream node ids, the same on every proxy instance. A cluster's range ends
 * where the next base begins.
 */
export class VirtualNodeIds {
  private readonly ranges: readonly ClusterNodeIds[];
  private readonly bases = new Map<string, number>();

  constructor(clusters: readonly ClusterNodeIds[]) {
    this.ranges = [...clusters].sort((a, b) => a.nodeIdBase - b.nodeIdBase);
    for (const cluster of clusters) this.bases.set(cluster.cluster, cluster.nodeIdBase);
  }

  /** True when every virtual id is the upstream id itself (one cluster, base 0). */
  get areUpstreamIds(): boolean {
    return this.ranges.length === 1 && this.ranges[0]!.nodeIdBase === 0;
  }

  /** The virtual node id of the cluster's node 0. */
  baseOf(cluster: string): number | undefined {
    return this.bases.get(cluster);
  }

  virtualId(cluster: string, upstreamNodeId: number): number {
    if (upstreamNodeId < 0) return upstreamNodeId;
    return this.bases.get(cluster)! + upstreamNodeId;
  }

  upstreamOf(virtualId: number): UpstreamNodeRef | undefined {
    if (virtualId < 0) return undefined;
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const range = this.ranges[i]!;
      if (virtualId >= range.nodeIdBase)
        return { cluster: range.cluster, nodeId: virtualId - range.nodeIdBase };
    }
    return undefined;
  }
}
