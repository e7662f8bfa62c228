import type { Exchange, ExchangeContext, RequestInterceptor, ResponseFeature } from "../../proxy/feature.ts";
import type { VirtualizationContext } from "./context.ts";
import type { VirtualLayout } from "./rules.ts";

const CONSUMER_GROUP_HEARTBEAT = 68;
const CONSUMER_GROUP_DESCRIBE = 69;

interface TopicPartitions {
  topicId: string;
  partitions: number[];
}

/** Every virtual partition on the given physical partitions: p -> p, p + P, ..., p + (k-1)P, ascending. */
export function expandToVirtual(physical: readonly number[], layout: VirtualLayout): number[] {
  const out: number[] = [];
  for (let g = 0; g < layout.groups; g++) {
    for (const p of physical) {
      if (p >= 0 && p < layout.physicalPartitions) out.push(g * layout.physicalPartitions + p);
    }
  }
  return out.sort((a, b) => a - b);
}

/** The physical partitions behind the given virtual partitions, each once, ascending. */
export function collapseToPhysical(virtual: readonly number[], layout: VirtualLayout): number[] {
  const seen = new Set<number>();
  for (const v of virtual) {
    if (v >= 0 && v < layout.virtualPartitions) seen.add(v % layout.physicalPartitions);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * KIP-848 consumers (`group.protocol=consumer`): the broker assigns physical partitions, the client owns
 * virtual ones. Heartbeat requests report owned v collapsed to p; assignments in responses are expanded
 * from each p to every v on it.
 */
export class VirtualConsumerHeartbeat implements RequestInterceptor {
  readonly name = "virtualization-consumer-heartbeat";
  readonly interceptApiKeys = [CONSUMER_GROUP_HEARTBEAT];
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  intercept(exchange: Exchange): Promise<unknown> {
    return this.heartbeat(exchange);
  }

  private async heartbeat(exchange: Exchange): Promise<unknown> {
    const request = exchange.request as { topicPartitions: TopicPartitions[] | null };
    if (request.topicPartitions) {
      await this.resolve(request.topicPartitions);
      request.topicPartitions = this.rewrite(request.topicPartitions, collapseToPhysical);
    }
    const response = await exchange.send(CONSUMER_GROUP_HEARTBEAT, exchange.apiVersion, request);
    const assignment = response.assignment as { topicPartitions: TopicPartitions[] } | null;
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

interface DescribedTopicPartitions {
  topicId: string;
  topicName: string;
  partitions: number[];
}

/** ConsumerGroupDescribe shows members' current and target assignments as virtual partitions. */
export class VirtualConsumerGroupDescribe implements ResponseFeature {
  readonly name = "virtualization-consumer-group-describe";
  readonly responseApiKeys = [CONSUMER_GROUP_DESCRIBE];
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated ConsumerGroupDescribe response body
  onResponse(_context: ExchangeContext, body: any): boolean {
    let changed = false;
    const expand = (assignment: { topicPartitions: DescribedTopicPartitions[] } | undefined) => {
      if (!assignment) return;
      for (const topic of assignment.topicPartitions) {
        const name = topic.topicName || this.context.topics.nameOf(topic.topicId);
        const layout = name ? this.context.rules.layoutOf(name) : undefined;
        if (!layout) continue;
        topic.partitions = expandToVirtual(topic.partitions, layout);
        changed = true;
      }
    };
    for (const group of body.groups as { members: { assignment: never; targetAssignment: never }[] }[]) {
      for (const member of group.members) {
        expand(member.assignment);
        expand(member.targetAssignment);
      }
    }
    return changed;
  }
}
