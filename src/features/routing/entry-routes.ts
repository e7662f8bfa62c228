import { ApiKey } from "../../protocol/api.ts";

/** Where one entry of a request goes: a cluster, and the node to send it to when it must be a particular one. */
export interface Destination {
  readonly cluster: string;
  readonly nodeId?: number;
}

/** What routing an entry needs to know about the clusters. */
export interface RouteLookups {
  clusterOfTopic(topic: string): string;
  /** The cluster of a topic id the proxy has seen; undefined when it has not. */
  clusterOfTopicId(topicId: string): string | undefined;
  homeOfGroup(group: string): string;
  /** The cluster and upstream id of a virtual node. */
  upstreamOf(nodeId: number): { cluster: string; nodeId: number } | undefined;
}

/**
 * How a request that names topics (or other clusters' things) is split: which top-level list holds the entries,
 * which list of the response holds their results, and where each entry goes.
 */
export interface EntryRoute {
  readonly requestList: string;
  readonly responseList: string;
  /** The entry's destination; undefined keeps it on the cluster the request was sent to. */
  destinationOf(entry: unknown, lookups: RouteLookups): Destination | undefined;
  /** Rewrites an entry for the upstream cluster (virtual node ids to upstream ones), in place. */
  toUpstream?(entry: unknown, lookups: RouteLookups): void;
  /** Rewrites a result entry of `destination` back for the client, in place. */
  fromUpstream?(result: unknown, destination: Destination): void;
}

/**
 * Requests a partition's leader must serve. Entries of another cluster's topics are answered with
 * NOT_LEADER_OR_FOLLOWER, as a broker answers for partitions it does not lead: the client refreshes its metadata
 * and sends them to their leader.
 */
export const LEADER_REQUESTS: ReadonlySet<number> = new Set([
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.OffsetForLeaderEpoch,
  ApiKey.DeleteRecords,
  ApiKey.DescribeProducers,
]);

interface NamedEntry {
  name?: string | null;
  topic?: string | null;
  topicId?: string;
}

function topicDestination(entry: unknown, lookups: RouteLookups): Destination | undefined {
  if (typeof entry === "string") return { cluster: lookups.clusterOfTopic(entry) };
  const named = entry as NamedEntry;
  const name = named.name ?? named.topic;
  if (name) return { cluster: lookups.clusterOfTopic(name) };
  if (named.topicId) {
    const cluster = lookups.clusterOfTopicId(named.topicId);
    return cluster === undefined ? undefined : { cluster };
  }
  return undefined;
}

function topicList(requestList: string, responseList: string): EntryRoute {
  return { requestList, responseList, destinationOf: topicDestination };
}

/** Config resource types (Kafka's ConfigResource.Type): not part of the message definitions. */
const ConfigResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, GROUP: 32 } as const;

interface ConfigResource {
  resourceType: number;
  resourceName: string;
}

function isBrokerResource(resource: ConfigResource): boolean {
  return (
    (resource.resourceType === ConfigResourceType.BROKER ||
      resource.resourceType === ConfigResourceType.BROKER_LOGGER) &&
    /^\d+$/.test(resource.resourceName)
  );
}

/** Config resources: topics go to their cluster, a broker's to that broker (under its upstream id), groups home. */
const CONFIG_RESOURCES = (responseList: string): EntryRoute => ({
  requestList: "resources",
  responseList,
  destinationOf(entry, lookups) {
    const resource = entry as ConfigResource;
    if (resource.resourceType === ConfigResourceType.TOPIC) {
      return { cluster: lookups.clusterOfTopic(resource.resourceName) };
    }
    if (resource.resourceType === ConfigResourceType.GROUP) {
      return { cluster: lookups.homeOfGroup(resource.resourceName) };
    }
    if (isBrokerResource(resource)) {
      const nodeId = Number(resource.resourceName);
      const upstream = lookups.upstreamOf(nodeId);
      return upstream && { cluster: upstream.cluster, nodeId };
    }
    return undefined;
  },
  toUpstream(entry, lookups) {
    const resource = entry as ConfigResource;
    if (!isBrokerResource(resource)) return;
    const upstream = lookups.upstreamOf(Number(resource.resourceName));
    if (upstream) resource.resourceName = String(upstream.nodeId);
  },
  fromUpstream(result, destination) {
    const resource = result as ConfigResource;
    if (destination.nodeId !== undefined && isBrokerResource(resource)) {
      resource.resourceName = String(destination.nodeId);
    }
  },
});

/** The requests split between clusters by the entries of one list, by API key. */
export const ENTRY_ROUTES: ReadonlyMap<number, readonly EntryRoute[]> = new Map<
  number,
  readonly EntryRoute[]
>([
  [ApiKey.Produce, [topicList("topicData", "responses")]],
  [ApiKey.Fetch, [topicList("topics", "responses")]],
  [ApiKey.ListOffsets, [topicList("topics", "topics")]],
  [ApiKey.OffsetForLeaderEpoch, [topicList("topics", "topics")]],
  [ApiKey.DeleteRecords, [topicList("topics", "topics")]],
  [ApiKey.DescribeProducers, [topicList("topics", "topics")]],
  [ApiKey.CreateTopics, [topicList("topics", "topics")]],
  [ApiKey.DeleteTopics, [topicList("topics", "responses"), topicList("topicNames", "responses")]],
  [ApiKey.CreatePartitions, [topicList("topics", "results")]],
  [ApiKey.ElectLeaders, [topicList("topicPartitions", "replicaElectionResults")]],
  [ApiKey.AlterPartitionReassignments, [topicList("topics", "responses")]],
  [ApiKey.ListPartitionReassignments, [topicList("topics", "topics")]],
  [ApiKey.DescribeConfigs, [CONFIG_RESOURCES("results")]],
  [ApiKey.AlterConfigs, [CONFIG_RESOURCES("responses")]],
  [ApiKey.IncrementalAlterConfigs, [CONFIG_RESOURCES("responses")]],
]);
