import type { PartitionRule, ProxyConfig } from "../../config/load.ts";
import type { ProxyRequests } from "../../feature-api/services.ts";
import { ApiKey, ErrorCode } from "../../protocol/api.ts";
import type { Topology } from "../../topology/topology.ts";

/** How old the physical topic listing may be when the mapping is asked for. */
const PHYSICAL_LISTING_MAX_AGE_MS = 2_000;
/** Topics Kafka keeps for itself: never virtualized. */
const INTERNAL_TOPIC = /^__/;

export interface PartitionView {
  /** The partition as clients see it (a virtual partition on a virtualized topic). */
  readonly partition: number;
  /** The physical partition that stores it. */
  readonly physicalPartition: number;
  /** The virtual node id of the leader, -1 when it has none. */
  readonly leader: number;
}

export interface TopicView {
  readonly topic: string;
  readonly cluster: string;
  readonly virtualized: boolean;
  /** Partitions clients see. */
  readonly virtualPartitions: number;
  /** Partitions the cluster stores (null when the proxy has not seen the physical topic). */
  readonly physicalPartitions: number | null;
  /** Virtual partitions per physical partition (1 for a topic that is not virtualized). */
  readonly k: number | null;
  /** The `mapping.topics` pattern that virtualizes it, if one does. */
  readonly rule: string | null;
  /** Leaders of the physical partitions, in virtual node ids. */
  readonly physicalLeaders: readonly { readonly partition: number; readonly leader: number }[];
  readonly partitions: readonly PartitionView[];
}

export interface TopicsView {
  readonly clusters: readonly {
    readonly name: string;
    readonly reachable: boolean;
    readonly brokers: number;
  }[];
  readonly topics: readonly TopicView[];
}

function ruleOf(config: ProxyConfig, topic: string): PartitionRule | undefined {
  if (INTERNAL_TOPIC.test(topic) || config.neverVirtualize.some((pattern) => pattern.test(topic))) {
    return undefined;
  }
  const rule = config.partitionRules.find((candidate) => candidate.pattern.test(topic));
  return rule && rule.virtualPartitions !== rule.physicalPartitions ? rule : undefined;
}

/**
 * Every topic in the clients' view (Metadata through the chain: virtual partitions, virtual node ids) beside its
 * physical form on its cluster. Virtual partition v is stored on physical partition v mod P, so the leader of
 * physical partition p is the leader clients see for virtual partition p.
 */
export async function describeTopics(
  config: ProxyConfig,
  topology: Topology,
  requests: ProxyRequests,
): Promise<TopicsView> {
  const [metadata, physical] = await Promise.all([
    requests.request(ApiKey.Metadata, {
      topics: null,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }),
    topology.topics.listAll(PHYSICAL_LISTING_MAX_AGE_MS).catch(() => []),
  ]);
  const physicalCounts = new Map(physical.map((topic) => [topic.name, topic.partitions]));
  const topics: TopicView[] = [];
  for (const entry of metadata.topics) {
    if (entry.errorCode !== ErrorCode.NONE || !entry.name) continue;
    const name = entry.name;
    const leaders = new Map(entry.partitions.map((p) => [p.partitionIndex, p.leaderId]));
    const virtualPartitions = entry.partitions.length;
    const physicalPartitions = physicalCounts.get(name) ?? topology.topics.get(name)?.partitions ?? null;
    const rule = ruleOf(config, name);
    const virtualized = physicalPartitions !== null && physicalPartitions !== virtualPartitions;
    const stored = physicalPartitions ?? virtualPartitions;
    const partitions: PartitionView[] = [];
    for (let partition = 0; partition < virtualPartitions; partition++) {
      partitions.push({
        partition,
        physicalPartition: partition % stored,
        leader: leaders.get(partition) ?? -1,
      });
    }
    const physicalLeaders = [];
    for (let partition = 0; partition < Math.min(stored, virtualPartitions); partition++) {
      physicalLeaders.push({ partition, leader: leaders.get(partition) ?? -1 });
    }
    topics.push({
      topic: name,
      cluster: topology.routing.clusterOfTopic(name),
      virtualized,
      virtualPartitions,
      physicalPartitions,
      k: physicalPartitions ? virtualPartitions / physicalPartitions : null,
      rule: virtualized ? (rule?.source ?? null) : null,
      physicalLeaders,
      partitions,
    });
  }
  topics.sort((a, b) => a.topic.localeCompare(b.topic));
  const health = topology.health();
  return {
    clusters: topology.clusterNames.map((name) => ({
      name,
      reachable: health[name]?.reachable ?? false,
      brokers: health[name]?.brokers ?? 0,
    })),
    topics,
  };
}
