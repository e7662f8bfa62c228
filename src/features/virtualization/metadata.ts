import { decodeRequest } from "../../protocol/frame.ts";
import type { ExchangeContext, ResponseFeature } from "../../proxy/feature.ts";
import type { VirtualizationRules, VirtualLayout } from "./rules.ts";
import type { TopicIndex } from "./topic-index.ts";

const METADATA = 3;
const DESCRIBE_TOPIC_PARTITIONS = 75;
export const INVALID_TOPIC_EXCEPTION = 17;

interface PhysicalPartition {
  partitionIndex: number;
  [field: string]: unknown;
}

interface TopicEntry {
  errorCode: number;
  name: string | null;
  topicId?: string;
  partitions: PhysicalPartition[];
}

/**
 * Presents virtualized topics with their virtual partition count: virtual partition v carries the leader,
 * replicas and epochs of its physical partition p = v mod P. A topic whose physical count disagrees with its
 * rule is refused (INVALID_TOPIC_EXCEPTION) and the reason is logged, never served half-mapped.
 */
export class VirtualMetadata implements ResponseFeature {
  readonly name = "virtualization-metadata";
  readonly responseApiKeys = [METADATA, DESCRIBE_TOPIC_PARTITIONS];
  private readonly rules: VirtualizationRules;
  private readonly topics: TopicIndex;
  private readonly warned = new Map<string, number>();

  constructor(rules: VirtualizationRules, topics: TopicIndex) {
    this.rules = rules;
    this.topics = topics;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated Metadata / DescribeTopicPartitions bodies
  onResponse(context: ExchangeContext, body: any): boolean {
    const topics = body.topics as TopicEntry[];
    this.topics.learn(topics);
    let changed = false;
    let refused: Set<TopicEntry> | undefined;
    for (const topic of topics) {
      if (topic.errorCode !== 0 || !topic.name) continue;
      const layout = this.rules.layoutOf(topic.name);
      if (!layout) continue;
      changed = true;
      if (topic.partitions.length !== layout.physicalPartitions) {
        this.refuse(context, topic, layout);
        (refused ??= new Set()).add(topic);
        continue;
      }
      topic.partitions = expandPartitions(topic.partitions, layout);
    }
    if (refused) {
      const named = namedTopics(context);
      body.topics = topics.filter((topic) => !refused.has(topic) || named?.has(topic.name!));
    }
    return changed;
  }

  private refuse(context: ExchangeContext, topic: TopicEntry, layout: VirtualLayout): void {
    const found = topic.partitions.length;
    topic.errorCode = INVALID_TOPIC_EXCEPTION;
    topic.partitions = [];
    const now = Date.now();
    if ((this.warned.get(layout.topic) ?? 0) + 60_000 < now) {
      this.warned.set(layout.topic, now);
      context.log.error(
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
 * requests that name it: some clients fail a whole all-topics answer on one topic's error.
 */
function namedTopics(context: ExchangeContext): Set<string> | undefined {
  if (!context.requestFrame) return undefined;
  try {
    const request = decodeRequest(context.requestFrame.subarray(4)).body as {
      topics: { name: string | null }[] | null;
    };
    if (
      !request.topics ||
      (context.apiKey === METADATA && request.topics.length === 0 && context.apiVersion === 0)
    ) {
      return undefined;
    }
    return new Set(request.topics.map((topic) => topic.name).filter((name): name is string => name !== null));
  } catch {
    return undefined;
  }
}

export function expandPartitions(physical: PhysicalPartition[], layout: VirtualLayout): PhysicalPartition[] {
  const byIndex: PhysicalPartition[] = [];
  for (const partition of physical) byIndex[partition.partitionIndex] = partition;
  const out: PhysicalPartition[] = new Array(layout.virtualPartitions);
  for (let v = 0; v < layout.virtualPartitions; v++) {
    const source = byIndex[v % layout.physicalPartitions]!;
    out[v] = { ...source, partitionIndex: v };
  }
  return out;
}
