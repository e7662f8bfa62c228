import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type {
  OffsetForLeaderPartition,
  OffsetForLeaderTopic,
} from "../../../protocol/generated/messages/offset-for-leader-epoch-request.ts";
import type { OffsetForLeaderTopicResult } from "../../../protocol/generated/messages/offset-for-leader-epoch-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { splitByGroup, type TopicShape, toVirtual } from "../mapping/partition-rounds.ts";

type OffsetForLeaderEpoch = typeof ApiKey.OffsetForLeaderEpoch;

const epochShape: TopicShape<OffsetForLeaderTopic, OffsetForLeaderPartition> = {
  topicName: (topic) => topic.topic,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partition,
  withPartitionIndex: (partition, index) => ({ ...partition, partition: index }),
};

/**
 * OffsetForLeaderEpoch answers a virtual partition from its physical partition: leader epochs and their end
 * offsets are p's. The request is split by group so no physical partition appears twice in one upstream
 * request.
 */
export class VirtualOffsetForLeaderEpoch implements ApiHandler<OffsetForLeaderEpoch> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: RequestOf<OffsetForLeaderEpoch>,
    context: RequestContext<OffsetForLeaderEpoch>,
  ): Promise<ResponseOf<OffsetForLeaderEpoch>> {
    const rules = this.context.rules;
    const split = splitByGroup(request.topics, epochShape, rules);
    if (!split.virtualized) return context.next(request);
    const rounds = await Promise.all(
      split.rounds.map((round) =>
        context
          .next({ ...request, topics: round.topics })
          .then((response) => ({ group: round.group, response })),
      ),
    );
    const topics = new Map<string, OffsetForLeaderTopicResult>();
    let throttleTimeMs = 0;
    for (const { group, response } of rounds) {
      throttleTimeMs = Math.max(throttleTimeMs, response.throttleTimeMs);
      for (const topic of response.topics) {
        const layout = rules.layoutOf(topic.topic);
        const target = topics.get(topic.topic) ?? { topic: topic.topic, partitions: [] };
        topics.set(topic.topic, target);
        for (const partition of topic.partitions) {
          partition.partition = toVirtual(layout, partition.partition, group);
          target.partitions.push(partition);
        }
      }
    }
    for (const { topic, partition } of split.outOfRange) {
      const target = topics.get(topic) ?? { topic, partitions: [] };
      topics.set(topic, target);
      target.partitions.push({
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        partition: partition.partition,
        leaderEpoch: -1,
        endOffset: -1n,
      });
    }
    return { throttleTimeMs, topics: [...topics.values()] };
  }
}
