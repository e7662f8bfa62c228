import type { ApiHandler, ExchangeInfo } from "../../../feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf } from "../../../protocol/api.ts";
import { decodeClientRequest } from "../../../protocol/frame.ts";
import type { TopicDirectory } from "../../../topology/topics.ts";
import { physicalOf, type VirtualizationRules, type VirtualLayout } from "../mapping/rules.ts";

/** The parts of a Metadata or DescribeTopicPartitions topic entry that virtualization rewrites. */
interface TopicEntry<Partition extends { partitionIndex: number }> {
  errorCode: number;
  name: string | null;
  topicId: string;
  partitions: Partition[];
}

/**
 * Presents virtualized topics with their virtual partition count in Metadata and DescribeTopicPartitions
 * responses: virtual partition v carries the leader, replicas and epochs of its physical partition
 * p = v mod P. A topic whose physical count disagrees with its rule is refused (INVALID_TOPIC_EXCEPTION) and the
 * reason is logged, never served half-mapped. Every response also teaches the topic directory the cluster's
 * topics.
 */
export class VirtualMetadata {
  private readonly rules: VirtualizationRules;
  private readonly topics: TopicDirectory;
  private readonly warned = new Map<string, number>();

  /**
   * A Metadata request that would let the broker auto-create a virtualized topic the cluster lacks is sent
   * without auto-creation: the broker would create it with its default partition count, not the rule's P, and
   * the proxy would then have to refuse the topic for good. Such topics are created with CreateTopics (through
   * the proxy, which creates P partitions).
   */
  readonly metadata: ApiHandler<typeof ApiKey.Metadata> = {
    wantsRequest: () => !this.rules.isEmpty,
    onRequest: (request, context) =>
      context.next(
        this.wouldAutoCreateVirtual(request) ? { ...request, allowAutoTopicCreation: false } : request,
      ),
    onResponse: (response, exchange) => this.present(response, exchange, true),
  };

  /** Its pages may list part of a topic's partitions: they never teach the directory a partition count. */
  readonly describeTopicPartitions: ApiHandler<typeof ApiKey.DescribeTopicPartitions> = {
    onResponse: (response, exchange) => this.present(response, exchange, false),
  };

  constructor(rules: VirtualizationRules, topics: TopicDirectory) {
    this.rules = rules;
    this.topics = topics;
  }

  private wouldAutoCreateVirtual(request: RequestOf<typeof ApiKey.Metadata>): boolean {
    if (!request.allowAutoTopicCreation || !request.topics) return false;
    return request.topics.some(
      (topic) =>
        topic.name !== null && this.topics.get(topic.name) === undefined && this.rules.layoutOf(topic.name),
    );
  }

  private present<Partition extends { partitionIndex: number }>(
    response: { topics: TopicEntry<Partition>[] },
    exchange: ExchangeInfo,
    complete: boolean,
  ): boolean {
    const topics = response.topics;
    this.topics.learn(topics, complete);
    let changed = false;
    let refused: Set<TopicEntry<Partition>> | undefined;
    for (const topic of topics) {
      if (topic.errorCode !== ErrorCode.NONE || !topic.name) continue;
      const layout = this.rules.layoutOf(topic.name);
      if (!layout) continue;
      changed = true;
      if (topic.partitions.length !== layout.physicalPartitions) {
        this.refuse(exchange, topic, layout);
        (refused ??= new Set()).add(topic);
        continue;
      }
      topic.partitions = expandPartitions(topic.partitions, layout);
    }
    if (refused) {
      const named = namedTopics(exchange);
      response.topics = topics.filter((topic) => !refused.has(topic) || named?.has(topic.name!));
    }
    return changed;
  }

  private refuse(
    exchange: ExchangeInfo,
    topic: TopicEntry<{ partitionIndex: number }>,
    layout: VirtualLayout,
  ): void {
    const found = topic.partitions.length;
    topic.errorCode = ErrorCode.INVALID_TOPIC_EXCEPTION;
    topic.partitions = [];
    const now = Date.now();
    if ((this.warned.get(layout.topic) ?? 0) + 60_000 < now) {
      this.warned.set(layout.topic, now);
      exchange.log.error(
        {
          topic: layout.topic,
          physicalPartitions: found,
          rule: `${layout.virtualPartitions} on ${layout.physicalPartitions}`,
        },
        `topic ${layout.topic} has ${found} physical partitions but its rule expects ${layout.physicalPartitions}; the proxy refuses to serve it (INVALID_TOPIC_EXCEPTION) until the rule or the topic is fixed`,
      );
    }
  }
}

/**
 * The topic names a request asked for, or undefined for "all topics". A refused topic is reported only to
 * requests that name it: some clients fail a whole all-topics answer on one topic's error. Metadata asks for
 * all topics with a null list, and in v0 (whose list cannot be null) with an empty one; from v1 an empty list
 * asks for no topic, so its answer holds none to refuse.
 */
function namedTopics(exchange: ExchangeInfo): Set<string> | undefined {
  if (!exchange.requestFrame) return undefined;
  try {
    const request = decodeClientRequest(exchange.requestFrame.subarray(4)).body as {
      topics: { name: string | null }[] | null;
    };
    if (!request.topics || (exchange.apiKey === ApiKey.Metadata && request.topics.length === 0)) {
      return undefined;
    }
    return new Set(request.topics.map((topic) => topic.name).filter((name): name is string => name !== null));
  } catch {
    return undefined;
  }
}

/** The virtual partitions of a topic, each a copy of its physical partition's entry renumbered v. */
export function expandPartitions<Partition extends { partitionIndex: number }>(
  physical: readonly Partition[],
  layout: VirtualLayout,
): Partition[] {
  const byIndex: Partition[] = [];
  for (const partition of physical) byIndex[partition.partitionIndex] = partition;
  const out: Partition[] = new Array(layout.virtualPartitions);
  for (let v = 0; v < layout.virtualPartitions; v++) {
    out[v] = { ...byIndex[physicalOf(layout, v)]!, partitionIndex: v };
  }
  return out;
}
