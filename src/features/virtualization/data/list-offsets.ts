import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type {
  ListOffsetsPartition,
  ListOffsetsTopic,
} from "../../../protocol/generated/messages/list-offsets-request.ts";
import type {
  ListOffsetsPartitionResponse,
  ListOffsetsTopicResponse,
} from "../../../protocol/generated/messages/list-offsets-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { type AnswerShape, mergeRounds, splitByGroup, type TopicShape } from "../mapping/partition-rounds.ts";

type ListOffsets = typeof ApiKey.ListOffsets;

const listOffsetsShape: TopicShape<ListOffsetsTopic, ListOffsetsPartition> = {
  topicName: (topic) => topic.name,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partitionIndex,
  withPartitionIndex: (partition, partitionIndex) => ({ ...partition, partitionIndex }),
};

const listOffsetsAnswerShape: AnswerShape<ListOffsetsTopicResponse, ListOffsetsPartitionResponse> = {
  topicName: (topic) => topic.name,
  partitions: (topic) => topic.partitions,
  emptyTopic: (name) => ({ name, partitions: [] }),
  partitionIndex: (partition) => partition.partitionIndex,
  setPartitionIndex: (partition, index) => {
    partition.partitionIndex = index;
  },
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
    const answers = await Promise.all(
      split.rounds.map(async (round) => ({
        group: round.group,
        response: await context.next({ ...request, topics: round.topics }),
      })),
    );
    const refused = split.outOfRange.map(({ topic, partition }) => ({
      topic,
      partition: {
        partitionIndex: partition.partitionIndex,
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        timestamp: -1n,
        offset: -1n,
        leaderEpoch: -1,
      },
    }));
    return {
      throttleTimeMs: Math.max(0, ...answers.map(({ response }) => response.throttleTimeMs)),
      topics: mergeRounds(
        answers.map(({ group, response }) => ({ group, topics: response.topics })),
        listOffsetsAnswerShape,
        rules,
        refused,
      ),
    };
  }
}
