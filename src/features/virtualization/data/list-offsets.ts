import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type {
  ListOffsetsPartition,
  ListOffsetsTopic,
} from "../../../protocol/generated/messages/list-offsets-request.ts";
import type { ListOffsetsTopicResponse } from "../../../protocol/generated/messages/list-offsets-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { splitByGroup, type TopicShape, toVirtual } from "../mapping/partition-rounds.ts";

type ListOffsets = typeof ApiKey.ListOffsets;

const listOffsetsShape: TopicShape<ListOffsetsTopic, ListOffsetsPartition> = {
  topicName: (topic) => topic.name,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partitionIndex,
  withPartitionIndex: (partition, partitionIndex) => ({ ...partition, partitionIndex }),
};

/**
 * ListOffsets answers a virtual partition from its physical partition: earliest, latest and by-timestamp
 * offsets are physical offsets (v's own records are a subset of p's). The request is split by group so no
 * physical partition appears twice in one upstream request.
 */
export class VirtualListOffsets implements ApiHandler<ListOffsets> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: RequestOf<ListOffsets>,
    context: RequestContext<ListOffsets>,
  ): Promise<ResponseOf<ListOffsets>> {
    const rules = this.context.rules;
    const split = splitByGroup(request.topics, listOffsetsShape, rules);
    if (!split.virtualized) return context.next(request);
    const rounds = await Promise.all(
      split.rounds.map((round) =>
        context
          .next({ ...request, topics: round.topics })
          .then((response) => ({ group: round.group, response })),
      ),
    );
    const topics = new Map<string, ListOffsetsTopicResponse>();
    let throttleTimeMs = 0;
    for (const { group, response } of rounds) {
      throttleTimeMs = Math.max(throttleTimeMs, response.throttleTimeMs);
      for (const topic of response.topics) {
        const layout = rules.layoutOf(topic.name);
        const target = topics.get(topic.name) ?? { name: topic.name, partitions: [] };
        topics.set(topic.name, target);
        for (const partition of topic.partitions) {
          partition.partitionIndex = toVirtual(layout, partition.partitionIndex, group);
          target.partitions.push(partition);
        }
      }
    }
    for (const { topic, partition } of split.outOfRange) {
      const target = topics.get(topic) ?? { name: topic, partitions: [] };
      topics.set(topic, target);
      target.partitions.push({
        partitionIndex: partition.partitionIndex,
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        timestamp: -1n,
        offset: -1n,
        leaderEpoch: -1,
      });
    }
    return { throttleTimeMs, topics: [...topics.values()] };
  }
}
