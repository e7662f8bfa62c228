import { groupOf, physicalOf, type VirtualizationRules, type VirtualLayout, virtualOf } from "./rules.ts";

/** How a request names topics and partitions, so one splitter serves several APIs. */
export interface TopicShape<Topic, Partition> {
  topicName(topic: Topic): string;
  partitions(topic: Topic): Partition[];
  withPartitions(topic: Topic, partitions: Partition[]): Topic;
  partitionIndex(partition: Partition): number;
  withPartitionIndex(partition: Partition, index: number): Partition;
}

export interface Round<Topic> {
  readonly group: number;
  readonly topics: Topic[];
}

export interface SplitResult<Topic, Partition> {
  /** Upstream requests to make, one per group; in each, a physical partition appears at most once. */
  readonly rounds: Round<Topic>[];
  /** Virtual partitions past the topic's virtual count, to answer with an error. */
  readonly outOfRange: { topic: string; partition: Partition }[];
  readonly virtualized: boolean;
}

/**
 * Maps each virtual partition v of a request to p = v mod P, grouping by g = floor(v / P) so that no
 * physical partition appears twice in one upstream request. Topics without a rule stay in round 0.
 */
export function splitByGroup<Topic, Partition>(
  topics: readonly Topic[],
  shape: TopicShape<Topic, Partition>,
  rules: VirtualizationRules,
): SplitResult<Topic, Partition> {
  const rounds: Map<string, Partition[]>[] = [];
  const topicByName = new Map<string, Topic>();
  const outOfRange: { topic: string; partition: Partition }[] = [];
  let virtualized = false;
  const add = (group: number, topic: Topic, partition: Partition) => {
    const name = shape.topicName(topic);
    topicByName.set(name, topic);
    let round = rounds[group];
    if (!round) rounds[group] = round = new Map();
    let list = round.get(name);
    if (!list) round.set(name, (list = []));
    list.push(partition);
  };
  for (const topic of topics) {
    const layout = rules.layoutOf(shape.topicName(topic));
    if (!layout) {
      const name = shape.topicName(topic);
      topicByName.set(name, topic);
      let round = rounds[0];
      if (!round) rounds[0] = round = new Map();
      round.set(name, [...(round.get(name) ?? []), ...shape.partitions(topic)]);
      continue;
    }
    virtualized = true;
    for (const partition of shape.partitions(topic)) {
      const v = shape.partitionIndex(partition);
      if (v < 0 || v >= layout.virtualPartitions) {
        outOfRange.push({ topic: layout.topic, partition });
        continue;
      }
      add(groupOf(layout, v), topic, shape.withPartitionIndex(partition, physicalOf(layout, v)));
    }
  }
  const result: Round<Topic>[] = [];
  rounds.forEach((round, group) => {
    if (!round) return;
    result.push({
      group,
      topics: [...round].map(([name, partitions]) =>
        shape.withPartitions(topicByName.get(name)!, partitions),
      ),
    });
  });
  return { rounds: result, outOfRange, virtualized };
}

/** Maps a physical partition index in round `group` back to its virtual partition. */
export function toVirtual(layout: VirtualLayout | undefined, physical: number, group: number): number {
  return layout ? virtualOf(layout, physical, group) : physical;
}

/** How a response names topics and partitions, so one merger serves several APIs. */
export interface AnswerShape<Topic, Partition> {
  topicName(topic: Topic): string;
  partitions(topic: Topic): Partition[];
  emptyTopic(name: string): Topic;
  partitionIndex(partition: Partition): number;
  setPartitionIndex(partition: Partition, index: number): void;
}

/**
 * Merges the answers to a split request's rounds into one topic list, physical partitions renamed to the
 * virtual partitions they stand for in their round, followed by the `refused` partitions.
 */
function mergeRounds<Topic, Partition>(
  answers: readonly { group: number; topics: readonly Topic[] }[],
  shape: AnswerShape<Topic, Partition>,
  rules: VirtualizationRules,
  refused: readonly { topic: string; partition: Partition }[],
): Topic[] {
  const topics = new Map<string, Topic>();
  const topicNamed = (name: string): Topic => {
    let topic = topics.get(name);
    if (!topic) topics.set(name, (topic = shape.emptyTopic(name)));
    return topic;
  };
  for (const { group, topics: answered } of answers) {
    for (const topic of answered) {
      const name = shape.topicName(topic);
      const layout = rules.layoutOf(name);
      const target = shape.partitions(topicNamed(name));
      for (const partition of shape.partitions(topic)) {
        shape.setPartitionIndex(partition, toVirtual(layout, shape.partitionIndex(partition), group));
        target.push(partition);
      }
    }
  }
  for (const { topic, partition } of refused) shape.partitions(topicNamed(topic)).push(partition);
  return [...topics.values()];
}

/** How a per-partition API's requests are split by group and its answers merged back. */
export interface GroupedApi<RequestTopic, RequestPartition, AnswerTopic, AnswerPartition> {
  readonly request: TopicShape<RequestTopic, RequestPartition>;
  readonly answer: AnswerShape<AnswerTopic, AnswerPartition>;
  /** The answer for a virtual partition past its topic's count. */
  refused(partition: RequestPartition): AnswerPartition;
}

interface GroupedAnswer<Topic> {
  throttleTimeMs: number;
  topics: Topic[];
}

/**
 * Asks for each group's physical partitions with `ask`, every round at once and before returning, and merges
 * the answers into the virtual partitions asked for. Undefined, with nothing asked, when no topic of the request
 * is virtualized.
 */
export function askByGroup<RequestTopic, RequestPartition, AnswerTopic, AnswerPartition>(
  topics: readonly RequestTopic[],
  api: GroupedApi<RequestTopic, RequestPartition, AnswerTopic, AnswerPartition>,
  rules: VirtualizationRules,
  ask: (topics: RequestTopic[]) => Promise<GroupedAnswer<AnswerTopic>>,
): Promise<GroupedAnswer<AnswerTopic>> | undefined {
  const split = splitByGroup(topics, api.request, rules);
  if (!split.virtualized) return undefined;
  const asked = split.rounds.map((round) =>
    ask(round.topics).then((answer) => ({ group: round.group, answer })),
  );
  const refused = split.outOfRange.map(({ topic, partition }) => ({
    topic,
    partition: api.refused(partition),
  }));
  return Promise.all(asked).then((answers) => ({
    throttleTimeMs: Math.max(0, ...answers.map(({ answer }) => answer.throttleTimeMs)),
    topics: mergeRounds(
      answers.map(({ group, answer }) => ({ group, topics: answer.topics })),
      api.answer,
      rules,
      refused,
    ),
  }));
}
