import type { ExistingTopic } from "../config/reload.ts";
import { ApiKey, ErrorCode } from "../protocol/api.ts";
import type { Topology } from "../topology/topology.ts";

/** ListOffsets' special timestamps: the first offset still held, and the next offset to be written. */
const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;
/** A consumer's view (not a replica's) in ListOffsets. */
const CONSUMER_REPLICA_ID = -1;
const READ_UNCOMMITTED = 0;
const LIST_OFFSETS_TIMEOUT_MS = 10_000;

export interface InspectedTopic extends ExistingTopic {
  /** Each partition's leader (a virtual node id), by partition index. */
  readonly leaders: ReadonlyMap<number, number>;
}

/** Every topic each upstream cluster holds, asked of the brokers now (not from the proxy's cache). */
export async function existingTopics(topology: Topology): Promise<InspectedTopic[]> {
  const out: InspectedTopic[] = [];
  for (const cluster of topology.clusterNames) {
    const nodeId = topology.anyNodeOf(cluster);
    if (nodeId === undefined) throw new Error(`no broker of cluster ${cluster} is known`);
    const response = await topology.admin.request(
      ApiKey.Metadata,
      {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      { nodeId },
    );
    for (const topic of response.topics) {
      if (topic.errorCode !== ErrorCode.NONE || !topic.name) continue;
      const leaders = new Map<number, number>();
      for (const partition of topic.partitions) {
        leaders.set(partition.partitionIndex, topology.virtualNodeId(cluster, partition.leaderId));
      }
      out.push({ name: topic.name, cluster, partitions: topic.partitions.length, leaders });
    }
  }
  return out;
}

/** Whether any partition of the topic holds a record: its earliest offset is below its latest, by its leader. */
export async function holdsRecords(topology: Topology, topic: InspectedTopic): Promise<boolean> {
  const byLeader = new Map<number, number[]>();
  for (const [partition, leader] of topic.leaders) {
    const list = byLeader.get(leader) ?? [];
    list.push(partition);
    byLeader.set(leader, list);
  }
  for (const [leader, partitions] of byLeader) {
    const earliest = await offsetsAt(topology, leader, topic.name, partitions, EARLIEST_TIMESTAMP);
    const latest = await offsetsAt(topology, leader, topic.name, partitions, LATEST_TIMESTAMP);
    for (const [partition, offset] of latest) {
      if (offset > (earliest.get(partition) ?? offset)) return true;
    }
  }
  return false;
}

async function offsetsAt(
  topology: Topology,
  nodeId: number,
  topic: string,
  partitions: readonly number[],
  timestamp: bigint,
): Promise<Map<number, bigint>> {
  const response = await topology.admin.request(
    ApiKey.ListOffsets,
    {
      replicaId: CONSUMER_REPLICA_ID,
      isolationLevel: READ_UNCOMMITTED,
      timeoutMs: LIST_OFFSETS_TIMEOUT_MS,
      topics: [
        {
          name: topic,
          partitions: partitions.map((partitionIndex) => ({
            partitionIndex,
            currentLeaderEpoch: -1,
            timestamp,
          })),
        },
      ],
    },
    { nodeId },
  );
  const offsets = new Map<number, bigint>();
  for (const answered of response.topics) {
    for (const partition of answered.partitions) {
      if (partition.errorCode !== ErrorCode.NONE) {
        throw new Error(
          `ListOffsets of ${topic} partition ${partition.partitionIndex} failed with error code ${partition.errorCode}`,
        );
      }
      offsets.set(partition.partitionIndex, partition.offset);
    }
  }
  return offsets;
}
