import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import type { ApiKey } from "../../../protocol/api.ts";
import type {
  ConsumerGroupHeartbeatRequest,
  TopicPartitions,
} from "../../../protocol/generated/messages/consumer-group-heartbeat-request.ts";
import type { ConsumerGroupHeartbeatResponse } from "../../../protocol/generated/messages/consumer-group-heartbeat-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { collapseToPhysical, expandToVirtual, type VirtualLayout } from "../mapping/rules.ts";

/**
 * KIP-848 consumers (`group.protocol=consumer`): the broker assigns physical partitions, the client owns
 * virtual ones. Heartbeat requests report owned v collapsed to p; assignments in responses are expanded
 * from each p to every v on it.
 */
export class VirtualConsumerHeartbeat implements ApiHandler<typeof ApiKey.ConsumerGroupHeartbeat> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: ConsumerGroupHeartbeatRequest,
    exchange: RequestContext<typeof ApiKey.ConsumerGroupHeartbeat>,
  ): Promise<ConsumerGroupHeartbeatResponse> {
    if (request.topicPartitions) {
      await this.resolve(request.topicPartitions);
      request.topicPartitions = this.rewrite(request.topicPartitions, collapseToPhysical);
    }
    const response = await exchange.next(request);
    const assignment = response.assignment;
    if (assignment) {
      await this.resolve(assignment.topicPartitions);
      assignment.topicPartitions = this.rewrite(assignment.topicPartitions, expandToVirtual);
    }
    return response;
  }

  private async resolve(topics: TopicPartitions[]): Promise<void> {
    const ids = topics.map((t) => t.topicId);
    if (ids.some((id) => this.context.topics.nameOf(id) === undefined)) {
      await this.context.topics.resolveIds(ids).catch(() => undefined);
    }
  }

  private rewrite(
    topics: TopicPartitions[],
    map: (partitions: readonly number[], layout: VirtualLayout) => number[],
  ): TopicPartitions[] {
    return topics.map((topic) => {
      const name = this.context.topics.nameOf(topic.topicId);
      const layout = name === undefined ? undefined : this.context.rules.layoutOf(name);
      return layout ? { ...topic, partitions: map(topic.partitions, layout) } : topic;
    });
  }
}
