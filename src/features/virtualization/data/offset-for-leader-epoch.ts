import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type {
  OffsetForLeaderPartition,
  OffsetForLeaderTopic,
} from "../../../protocol/generated/messages/offset-for-leader-epoch-request.ts";
import type {
  EpochEndOffset,
  OffsetForLeaderTopicResult,
} from "../../../protocol/generated/messages/offset-for-leader-epoch-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { type AnswerShape, mergeRounds, splitByGroup, type TopicShape } from "../mapping/partition-rounds.ts";

type OffsetForLeaderEpoch = typeof ApiKey.OffsetForLeaderEpoch;

const epochShape: TopicShape<OffsetForLeaderTopic, OffsetForLeaderPartition> = {
  topicName: (topic) => topic.topic,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partition,
  withPartitionIndex: (partition, index) => ({ ...partition, partition: index }),
};

const epochAnswerShape: AnswerShape<OffsetForLeaderTopicResult, EpochEndOffset> = {
  topicName: (topic) => topic.topic,
  partitions: (topic) => topic.partitions,
  emptyTopic: (topic) => ({ topic, partitions: [] }),
  partitionIndex: (partition) => partition.partition,
  setPartitionIndex: (partition, index) => {
    partition.partition = index;
  },
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
    const answers = await Promise.all(
      split.rounds.map(async (round) => ({
        group: round.group,
        response: await context.next({ ...request, topics: round.topics }),
      })),
    );
    const refused = split.outOfRange.map(({ topic, partition }) => ({
      topic,
      partition: {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        partition: partition.partition,
        leaderEpoch: -1,
        endOffset: -1n,
      },
    }));
    return {
      throttleTimeMs: Math.max(0, ...answers.map(({ response }) => response.throttleTimeMs)),
      topics: mergeRounds(
        answers.map(({ group, response }) => ({ group, topics: response.topics })),
        epochAnswerShape,
        rules,
        refused,
      ),
    };
  }
}
