import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import {
  companionGroupOf,
  isCompanionGroup,
  parseCompanionGroup,
} from "../../../src/features/virtualization/companion-groups.ts";
import {
  collapseToPhysical,
  expandToVirtual,
} from "../../../src/features/virtualization/consumer-protocol.ts";
import { GroupCoordinators } from "../../../src/features/virtualization/group-coordinators.ts";
import {
  groupLevelError,
  needsCompanions,
  planCommit,
} from "../../../src/features/virtualization/offset-commit.ts";
import {
  type FetchGroup,
  mergeFetch,
  noOffset,
  planFetch,
} from "../../../src/features/virtualization/offset-fetch.ts";
import type { VirtualLayout } from "../../../src/features/virtualization/rules.ts";

const layout: VirtualLayout = { topic: "orders", virtualPartitions: 32, physicalPartitions: 4, groups: 8 };
const layoutOf = (name: string) => (name === "orders" ? layout : undefined);
const silent = pino({ level: "silent" });

function commitPartition(v: number) {
  return {
    partitionIndex: v,
    committedOffset: BigInt(v * 10),
    committedLeaderEpoch: -1,
    committedMetadata: null,
  };
}

describe("companion group names", () => {
  test("round trip and recognition", () => {
    const name = companionGroupOf("payments", 3);
    assert.ok(isCompanionGroup(name));
    assert.deepEqual(parseCompanionGroup(name), { group: "payments", virtualGroup: 3 });
    assert.equal(isCompanionGroup("payments"), false);
    assert.equal(parseCompanionGroup("payments.__kpp-vg.x"), undefined);
    assert.deepEqual(parseCompanionGroup(companionGroupOf(companionGroupOf("a", 1), 2)), {
      group: companionGroupOf("a", 1),
      virtualGroup: 2,
    });
  });
});

describe("OffsetCommit plan", () => {
  test("v < P stays in the real group, v >= P goes to companion g for p, v >= V is an error", () => {
    const topics = [
      { name: "orders", topicId: "", partitions: [0, 3, 4, 9, 31, 32].map(commitPartition) },
      { name: "plain", topicId: "", partitions: [7].map(commitPartition) },
    ];
    const plan = planCommit(topics, 8, (t) => t.name, layoutOf);
    assert.deepEqual(
      plan.real.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)]),
      [
        ["orders", [0, 3]],
        ["plain", [7]],
      ],
    );
    assert.deepEqual(
      [...plan.companions].map(([g, byTopic]) => [
        g,
        [...byTopic].map(([name, ps]) => [name, ps.map((p) => [p.partitionIndex, p.committedOffset])]),
      ]),
      [
        [1, [["orders", [[0, 40n]]]]],
        [2, [["orders", [[1, 90n]]]]],
        [7, [["orders", [[3, 310n]]]]],
      ],
    );
    assert.deepEqual(plan.routes[0], [
      { to: "real" },
      { to: "real" },
      { to: "companion", group: 1, physical: 0 },
      { to: "companion", group: 2, physical: 1 },
      { to: "companion", group: 7, physical: 3 },
      { to: "error", code: 3 },
    ]);
  });

  test("commits without virtual partitions beyond P pass through", () => {
    const only = [{ name: "orders", topicId: "", partitions: [0, 1, 2, 3].map(commitPartition) }];
    assert.equal(
      needsCompanions(only, (t) => t.name, layoutOf),
      false,
    );
    only[0]!.partitions.push(commitPartition(4));
    assert.equal(
      needsCompanions(only, (t) => t.name, layoutOf),
      true,
    );
    assert.equal(
      needsCompanions(only, () => undefined, layoutOf),
      undefined,
      "an unknown topic id needs a lookup first",
    );
  });

  test("group-level errors are anything but partition-only errors", () => {
    const answer = (codes: number[]) => ({
      throttleTimeMs: 0,
      topics: [
        {
          name: "orders",
          topicId: "",
          partitions: codes.map((errorCode, i) => ({ partitionIndex: i, errorCode })),
        },
      ],
    });
    assert.equal(groupLevelError(answer([0, 0])), 0);
    assert.equal(groupLevelError(answer([0, 3, 12])), 0);
    assert.equal(groupLevelError(answer([0, 22])), 22);
    assert.equal(groupLevelError(answer([25, 25])), 25);
    assert.equal(groupLevelError(answer([113])), 113);
  });
});

describe("OffsetFetch plan and merge", () => {
  const group = (topics: FetchGroup["topics"]): FetchGroup => ({
    groupId: "g",
    memberId: null,
    memberEpoch: -1,
    topics,
  });

  test("requested partitions split by virtual group; all topics asks every companion", () => {
    const plan = planFetch(
      group([{ name: "orders", topicId: "", partitionIndexes: [1, 5, 13, 29, 40] }]),
      (t) => t.name,
      layoutOf,
      8,
    );
    assert.deepEqual(plan.real, [{ name: "orders", topicId: "", partitionIndexes: [1] }]);
    assert.deepEqual(
      [...plan.companions].map(([g, byTopic]) => [g, [...byTopic!].map(([n, ps]) => [n, [...ps]])]),
      [
        [1, [["orders", [1]]]],
        [3, [["orders", [1]]]],
        [7, [["orders", [1]]]],
      ],
    );
    const everything = planFetch(group(null), (t) => t.name, layoutOf, 8);
    assert.equal(everything.real, null);
    assert.deepEqual([...everything.companions.keys()], [1, 2, 3, 4, 5, 6, 7]);
  });

  test("merge answers in request order with virtual indexes", () => {
    const committed = (partitionIndex: number, offset: bigint) => ({
      ...noOffset(partitionIndex),
      committedOffset: offset,
    });
    const requested = group([{ name: "orders", topicId: "", partitionIndexes: [5, 1, 40, 2] }]);
    const merged = mergeFetch(
      requested,
      {
        groupId: "g",
        errorCode: 0,
        topics: [{ name: "orders", topicId: "", partitions: [committed(1, 11n), noOffset(2)] }],
      },
      new Map([[1, [{ name: "orders", topicId: "", partitions: [committed(1, 55n)] }]]]),
      (t) => t.name,
      () => undefined,
      layoutOf,
    );
    assert.deepEqual(
      merged.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
      [
        [5, 55n],
        [1, 11n],
        [40, -1n],
        [2, -1n],
      ],
    );
  });

  test("merge for all topics adds every committed companion partition", () => {
    const committed = (partitionIndex: number, offset: bigint) => ({
      ...noOffset(partitionIndex),
      committedOffset: offset,
    });
    const merged = mergeFetch(
      group(null),
      {
        groupId: "g",
        errorCode: 0,
        topics: [
          { name: "orders", topicId: "", partitions: [committed(0, 1n)] },
          { name: "plain", topicId: "", partitions: [committed(0, 2n)] },
        ],
      },
      new Map([
        [2, [{ name: "orders", topicId: "", partitions: [committed(3, 3n), noOffset(2)] }]],
        [1, [{ name: "orders", topicId: "", partitions: [committed(0, 4n)] }]],
        [9, [{ name: "orders", topicId: "", partitions: [committed(0, 5n)] }]],
      ]),
      (t) => t.name,
      () => undefined,
      layoutOf,
    );
    assert.deepEqual(
      merged.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]),
      [
        [
          "orders",
          [
            [0, 1n],
            [4, 4n],
            [11, 3n],
          ],
        ],
        ["plain", [[0, 2n]]],
      ],
    );
  });
});

describe("KIP-848 assignments", () => {
  test("expand p to every v on it, collapse owned v to p", () => {
    assert.deepEqual(
      expandToVirtual([2, 0], layout),
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30],
    );
    assert.deepEqual(collapseToPhysical([31, 3, 7, 4, 40], layout), [0, 3]);
    assert.deepEqual(collapseToPhysical(expandToVirtual([1, 2], layout), layout), [1, 2]);
  });
});

describe("group coordinators", () => {
  test("batched lookup, cached, one call per coordinator, retried on coordinator errors", async () => {
    const lookups: string[][] = [];
    const coordinators = new GroupCoordinators(async (_key, _version, body) => {
      const keys = (body as { coordinatorKeys: string[] }).coordinatorKeys;
      lookups.push(keys);
      return {
        coordinators: keys.map((key) => ({ key, nodeId: key.endsWith("a") ? 1 : 2, errorCode: 0 })),
      };
    }, silent);
    let moved = true;
    const calls: [number, string[]][] = [];
    const results = await coordinators.forEachCoordinator<string>(
      ["x-a", "y-b", "z-a"],
      async (nodeId, groups) => {
        calls.push([nodeId, groups]);
        return new Map(
          groups.map((group) => {
            const notHere = group === "y-b" && moved;
            if (notHere) moved = false;
            return [group, { errorCode: notHere ? 16 : 0, result: `${group}@${nodeId}` }];
          }),
        );
      },
      (code) => `failed ${code}`,
    );
    assert.deepEqual(Object.fromEntries(results), { "x-a": "x-a@1", "y-b": "y-b@2", "z-a": "z-a@1" });
    assert.deepEqual(lookups, [["x-a", "y-b", "z-a"], ["y-b"]]);
    assert.deepEqual(calls, [
      [1, ["x-a", "z-a"]],
      [2, ["y-b"]],
      [2, ["y-b"]],
    ]);
  });

  test("gives up after bounded retries with the last error", async () => {
    const coordinators = new GroupCoordinators(
      async () => ({ coordinators: [{ key: "g", nodeId: -1, errorCode: 15 }] }),
      silent,
    );
    const started = Date.now();
    const results = await coordinators.forEachCoordinator<number>(
      ["g"],
      async () => new Map(),
      (code) => code,
    );
    assert.equal(results.get("g"), 15);
    assert.ok(Date.now() - started < 5000);
  });
});
