import assert from "node:assert/strict";
import { test } from "node:test";
import {
  splitByGroup,
  type TopicShape,
  toVirtual,
} from "../../../../src/features/virtualization/mapping/partition-rounds.ts";
import { VirtualizationRules } from "../../../../src/features/virtualization/mapping/rules.ts";

interface Topic {
  name: string;
  partitions: number[];
}

const shape: TopicShape<Topic, number> = {
  topicName: (topic) => topic.name,
  partitions: (topic) => topic.partitions,
  withPartitions: (topic, partitions) => ({ ...topic, partitions }),
  partitionIndex: (partition) => partition,
  withPartitionIndex: (_, index) => index,
};

const rules = new VirtualizationRules(
  [{ pattern: /^orders$/, source: "orders", virtualPartitions: 8, physicalPartitions: 4 }],
  [],
);

test("splitByGroup: one round per group, each p at most once per round; plain topics in round 0", () => {
  const split = splitByGroup(
    [
      { name: "orders", partitions: [6, 2, 1, 9] },
      { name: "plain", partitions: [0, 1] },
    ],
    shape,
    rules,
  );
  assert.equal(split.virtualized, true);
  assert.deepEqual(split.rounds, [
    {
      group: 0,
      topics: [
        { name: "orders", partitions: [2, 1] },
        { name: "plain", partitions: [0, 1] },
      ],
    },
    { group: 1, topics: [{ name: "orders", partitions: [2] }] },
  ]);
  assert.deepEqual(split.outOfRange, [{ topic: "orders", partition: 9 }]);
  assert.equal(toVirtual(rules.layoutOf("orders"), 2, 1), 6);
  assert.equal(toVirtual(undefined, 2, 1), 2);
});

test("splitByGroup: a request without virtualized topics is not virtualized", () => {
  const split = splitByGroup([{ name: "plain", partitions: [0] }], shape, rules);
  assert.equal(split.virtualized, false);
  assert.deepEqual(split.rounds, [{ group: 0, topics: [{ name: "plain", partitions: [0] }] }]);
});
