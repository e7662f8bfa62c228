import type {
  ListOffsetsPartition,
  ListOffsetsRequest,
  ListOffsetsTopic,
} from "../../protocol/generated/messages/list-offsets-request.ts";
import type {
  ListOffsetsResponse,
  ListOffsetsTopicResponse,
} from "../../protocol/generated/messages/list-offsets-response.ts";
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderPartition,
  OffsetForLeaderTopic,
} from "../../protocol/generated/messages/offset-for-leader-epoch-request.ts";
import type {
  OffsetForLeaderEpochResponse,
  OffsetForLeaderTopicResult,
} from "../../protocol/generated/messages/offset-for-leader-epoch-response.ts";
import type { Exchange, RequestInterceptor } from "../../proxy/feature.ts";
import type { VirtualizationContext } from "./context.ts";
import { splitByGroup, type TopicShape, toVirtual } from "./partition-rounds.ts";

const LIST_OFFSETS = 2;
const OFFSET_FOR_LEADER_EPOCH = 23;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

const listOffsetsShape: TopicShape<ListOffsetsTopic, ListOffsetsPartition> = {
  topicName: (topic) => topic.name,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partitionIndex,
  withPartitionIndex: (partition, partitionIndex) => ({ ...partition, partitionIndex }),
};

const epochShape: TopicShape<OffsetForLeaderTopic, OffsetForLeaderPartition> = {
  topicName: (topic) => topic.topic,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition.partition,
  withPartitionIndex: (partition, index) => ({ ...partition, partition: index }),
};

/**
 * ListOffsets and OffsetForLeaderEpoch answer a virtual partition from its physical partition: earliest,
 * latest and by-timestamp offsets are physical offsets (v's own records are a subset of p's), and leader
 * epochs are p's.
 */
export class VirtualOffsets implements RequestInterceptor {
  readonly name = "virtualization-offsets";
  readonly interceptApiKeys = [LIST_OFFSETS, OFFSET_FOR_LEADER_EPOCH];
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  intercept(exchange: Exchange): Promise<unknown> | undefined {
    return exchange.apiKey === LIST_OFFSETS
      ? this.listOffsets(exchange)
      : this.offsetForLeaderEpoch(exchange);
  }

  private listOffsets(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as ListOffsetsRequest;
    const split = splitByGroup(request.topics, listOffsetsShape, this.context.rules);
    if (!split.virtualized) return undefined;
    const rules = this.context.rules;
    const answers = split.rounds.map((round) =>
      exchange
        .send(LIST_OFFSETS, exchange.apiVersion, { ...request, topics: round.topics })
        .then((response) => ({ group: round.group, response: response as ListOffsetsResponse })),
    );
    return Promise.all(answers).then((rounds) => {
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
          errorCode: UNKNOWN_TOPIC_OR_PARTITION,
          timestamp: -1n,
          offset: -1n,
          leaderEpoch: -1,
        });
      }
      return { throttleTimeMs, topics: [...topics.values()] } satisfies ListOffsetsResponse;
    });
  }

  private offsetForLeaderEpoch(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as OffsetForLeaderEpochRequest;
    const split = splitByGroup(request.topics, epochShape, this.context.rules);
    if (!split.virtualized) return undefined;
    const rules = this.context.rules;
    const answers = split.rounds.map((round) =>
      exchange
        .send(OFFSET_FOR_LEADER_EPOCH, exchange.apiVersion, { ...request, topics: round.topics })
        .then((response) => ({ group: round.group, response: response as OffsetForLeaderEpochResponse })),
    );
    return Promise.all(answers).then((rounds) => {
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
          errorCode: UNKNOWN_TOPIC_OR_PARTITION,
          partition: partition.partition,
          leaderEpoch: -1,
          endOffset: -1n,
        });
      }
      return { throttleTimeMs, topics: [...topics.values()] } satisfies OffsetForLeaderEpochResponse;
    });
  }
}
