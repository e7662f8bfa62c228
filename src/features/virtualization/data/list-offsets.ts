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
import { askByGroup, type GroupedApi } from "../mapping/partition-rounds.ts";

type ListOffsets = typeof ApiKey.ListOffsets;

const listOffsets: GroupedApi<
  ListOffsetsTopic,
  ListOffsetsPartition,
  ListOffsetsTopicResponse,
  ListOffsetsPartitionResponse
> = {
  request: {
    topicName: (topic) => topic.name,
    partitions: (topic) => topic.partitions,
    withPartitions: (topic, partitions) => ({ ...topic, partitions }),
    partitionIndex: (partition) => partition.partitionIndex,
    withPartitionIndex: (partition, partitionIndex) => ({ ...partition, partitionIndex }),
  },
  answer: {
    topicName: (topic) => topic.name,
    partitions: (topic) => topic.partitions,
    emptyTopic: (name) => ({ name, partitions: [] }),
    partitionIndex: (partition) => partition.partitionIndex,
    setPartitionIndex: (partition, index) => {
      partition.partitionIndex = index;
    },
  },
  refused: (partition) => ({
    partitionIndex: partition.partitionIndex,
    errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    timestamp: -1n,
    offset: -1n,
    leaderEpoch: -1,
  }),
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

  onRequest(
    request: RequestOf<ListOffsets>,
    context: RequestContext<ListOffsets>,
  ): Promise<ResponseOf<ListOffsets>> {
    return (
      askByGroup(request.topics, listOffsets, this.context.rules, (topics) =>
        context.next({ ...request, topics }),
      ) ?? context.next(request)
    );
  }
}
