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
import { askByGroup, type GroupedApi } from "../mapping/partition-rounds.ts";

type OffsetForLeaderEpoch = typeof ApiKey.OffsetForLeaderEpoch;

const offsetForLeaderEpoch: GroupedApi<
  OffsetForLeaderTopic,
  OffsetForLeaderPartition,
  OffsetForLeaderTopicResult,
  EpochEndOffset
> = {
  request: {
    topicName: (topic) => topic.topic,
    partitions: (topic) => topic.partitions,
    withPartitions: (topic, partitions) => ({ ...topic, partitions }),
    partitionIndex: (partition) => partition.partition,
    withPartitionIndex: (partition, index) => ({ ...partition, partition: index }),
  },
  answer: {
    topicName: (topic) => topic.topic,
    partitions: (topic) => topic.partitions,
    emptyTopic: (topic) => ({ topic, partitions: [] }),
    partitionIndex: (partition) => partition.partition,
    setPartitionIndex: (partition, index) => {
      partition.partition = index;
    },
  },
  refused: (partition) => ({
    errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    partition: partition.partition,
    leaderEpoch: -1,
    endOffset: -1n,
  }),
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

  onRequest(
    request: RequestOf<OffsetForLeaderEpoch>,
    context: RequestContext<OffsetForLeaderEpoch>,
  ): Promise<ResponseOf<OffsetForLeaderEpoch>> {
    return (
      askByGroup(request.topics, offsetForLeaderEpoch, this.context.rules, (topics) =>
        context.next({ ...request, topics }),
      ) ?? context.next(request)
    );
  }
}
