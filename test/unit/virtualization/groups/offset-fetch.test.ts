import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type FetchGroup,
  mergeFetch,
  noOffset,
  planFetch,
} from "../../../../src/features/virtualization/groups/offset-fetch.ts";
import type { VirtualLayout } from "../../../../src/features/virtualization/mapping/rules.ts";
import { ApiKey, ErrorCode, hasField, type RequestOf, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  type BrokerCall,
  clientOfCoordinator,
  companion,
  GROUP,
  groupWorld,
  ORDERS,
  ORDERS_ID,
  PLAIN,
  plain,
  recordingBroker,
} from "./group-fixtures.ts";

const layout: VirtualLayout = { topic: "orders", virtualPartitions: 32, physicalPartitions: 4, groups: 8 };
const layoutOf = (name: string) => (name === "orders" ? layout : undefined);

/** Committed offsets by `group/topic/partition`; the broker answers OffsetFetch from them, at any version. */
type OffsetStore = Record<string, bigint>;

interface FetchedTopicAnswer {
  name: string;
  topicId: string;
  partitions: {
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch: number;
    metadata: string;
    errorCode: number;
  }[];
}

function storedOffsets(store: OffsetStore, groupErrors: Record<string, number> = {}) {
  const topicsOf = (
    groupId: string,
    topics: { name: string; topicId: string; partitionIndexes: number[] }[] | null,
  ): FetchedTopicAnswer[] => {
    const asked =
      topics ??
      [
        ...new Set(
          Object.keys(store)
            .filter((k) => k.startsWith(`${groupId}/`))
            .map((k) => k.split("/")[1]!),
        ),
      ]
        .sort()
        .map((name) => ({
          name,
          topicId: ZERO_UUID,
          partitionIndexes: Object.keys(store)
            .filter((k) => k.startsWith(`${groupId}/${name}/`))
            .map((k) => Number(k.split("/")[2])),
        }));
    return asked.map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitions: t.partitionIndexes.map((p) => ({
        partitionIndex: p,
        committedOffset: store[`${groupId}/${t.name}/${p}`] ?? -1n,
        committedLeaderEpoch: -1,
        metadata: "",
        errorCode: ErrorCode.NONE,
      })),
    }));
  };
  return (call: BrokerCall) => {
    const request = call.request as RequestOf<typeof ApiKey.OffsetFetch>;
    if (!hasField("OffsetFetchRequest", "groups", call.apiVersion)) {
      const topics = topicsOf(
        request.groupId,
        request.topics === null ? null : request.topics.map((t) => ({ ...t, topicId: ZERO_UUID })),
      );
      return { throttleTimeMs: 0, topics, errorCode: ErrorCode.NONE, groups: [] };
    }
    return {
      throttleTimeMs: 0,
      topics: [],
      errorCode: ErrorCode.NONE,
      groups: request.groups.map((g) => {
        const errorCode = groupErrors[g.groupId] ?? ErrorCode.NONE;
        return {
          groupId: g.groupId,
          errorCode,
          topics: errorCode === ErrorCode.NONE ? topicsOf(g.groupId, g.topics) : [],
        };
      }),
    };
  };
}

function fetchRequest(
  topics: { name: string; topicId?: string; partitionIndexes: number[] }[] | null,
  requireStable = true,
): RequestOf<typeof ApiKey.OffsetFetch> {
  return {
    groupId: "",
    topics: [],
    requireStable,
    groups: [
      {
        groupId: GROUP,
        memberId: null,
        memberEpoch: -1,
        topics:
          topics === null
            ? null
            : topics.map((t) => ({
                name: t.name,
                topicId: t.topicId ?? ZERO_UUID,
                partitionIndexes: t.partitionIndexes,
              })),
      },
    ],
  };
}

function offsetsOf(
  topics: {
    name: string;
    topicId?: string;
    partitions: { partitionIndex: number; committedOffset: bigint }[];
  }[],
) {
  return topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]);
}

/** A group as the broker reads it in a multi-group OffsetFetch (v8-9: names, no member). */
function askedGroup(groupId: string, topics: [string, number[]][] | null) {
  return {
    groupId,
    memberId: null,
    memberEpoch: -1,
    topics:
      topics === null
        ? null
        : topics.map(([name, partitionIndexes]) => ({ name, topicId: ZERO_UUID, partitionIndexes })),
  };
}

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
        errorCode: ErrorCode.NONE,
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
        errorCode: ErrorCode.NONE,
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

describe("OffsetFetch handler", () => {
  test("v < P from the real group, v >= P from companion groups on their coordinators, merged back", async () => {
    const world = groupWorld({ coordinatorOf: (group) => (group === companion(1) ? 1 : 2) });
    const { broker, calls } = recordingBroker(
      storedOffsets({
        [`${GROUP}/${ORDERS}/1`]: 11n,
        [`${GROUP}/${PLAIN}/0`]: 100n,
        [`${companion(1)}/${ORDERS}/1`]: 55n,
        [`${companion(7)}/${ORDERS}/1`]: 77n,
      }),
    );
    const request = fetchRequest([
      { name: ORDERS, partitionIndexes: [1, 5, 13, 29, 40] },
      { name: PLAIN, partitionIndexes: [0] },
    ]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );

    assert.deepEqual(calls[0], {
      api: "OffsetFetch",
      apiVersion: 8,
      nodeId: undefined,
      request: {
        groupId: "",
        topics: [],
        requireStable: true,
        groups: [
          askedGroup(GROUP, [
            [ORDERS, [1]],
            [PLAIN, [0]],
          ]),
        ],
      },
    });
    const companions = calls.slice(1).sort((a, b) => a.nodeId! - b.nodeId!);
    assert.deepEqual(companions, [
      {
        api: "OffsetFetch",
        apiVersion: 9,
        nodeId: 1,
        request: {
          groupId: "",
          topics: [],
          requireStable: true,
          groups: [askedGroup(companion(1), [[ORDERS, [1]]])],
        },
      },
      {
        api: "OffsetFetch",
        apiVersion: 9,
        nodeId: 2,
        request: {
          groupId: "",
          topics: [],
          requireStable: true,
          groups: [askedGroup(companion(3), [[ORDERS, [1]]]), askedGroup(companion(7), [[ORDERS, [1]]])],
        },
      },
    ]);
    assert.deepEqual(
      world.negotiated.map(([node, api, bounds, version]) => [node, api, bounds, version]).sort(),
      [
        [1, "OffsetFetch", { min: 8, max: 9 }, 9],
        [2, "OffsetFetch", { min: 8, max: 9 }, 9],
      ],
    );
    assert.equal(response!.groups.length, 1);
    assert.equal(response!.groups[0]!.errorCode, ErrorCode.NONE);
    assert.deepEqual(offsetsOf(response!.groups[0]!.topics), [
      [
        ORDERS,
        [
          [1, 11n],
          [5, 55n],
          [13, -1n],
          [29, 77n],
          [40, -1n],
        ],
      ],
      [PLAIN, [[0, 100n]]],
    ]);
  });

  test("all topics: every companion group the largest virtualized topic may have, merged as virtual partitions", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker(
      storedOffsets({
        [`${GROUP}/${ORDERS}/0`]: 1n,
        [`${GROUP}/${PLAIN}/0`]: 2n,
        [`${companion(1)}/${ORDERS}/0`]: 4n,
        [`${companion(2)}/${ORDERS}/3`]: 3n,
        [`${companion(2)}/${ORDERS}/2`]: -1n,
      }),
    );
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      8,
      fetchRequest(null, false),
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      world.adminRequests
        .filter(([api]) => api === "Metadata")
        .map(([, body]) => (body as { topics: unknown }).topics),
      [null],
      "the largest V / P comes from a listing of every topic",
    );
    assert.deepEqual(calls[0]!.request.groups, [askedGroup(GROUP, null)]);
    assert.deepEqual(
      calls[1]!.request.groups,
      [1, 2, 3, 4, 5, 6, 7].map((g) => askedGroup(companion(g), null)),
    );
    assert.equal(calls.length, 2);
    assert.deepEqual(offsetsOf(response!.groups[0]!.topics), [
      [
        ORDERS,
        [
          [0, 1n],
          [4, 4n],
          [11, 3n],
        ],
      ],
      [PLAIN, [[0, 2n]]],
    ]);
  });

  test("v7 (one group, no group list): the answer keeps the single-group form", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker(
      storedOffsets({ [`${GROUP}/${ORDERS}/2`]: 20n, [`${companion(1)}/${ORDERS}/2`]: 60n }),
    );
    const request = {
      groupId: GROUP,
      topics: [{ name: ORDERS, partitionIndexes: [2, 6] }],
      requireStable: true,
      groups: [],
    };
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      7,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      calls.map((c) => [c.apiVersion, c.nodeId]),
      [
        [7, undefined],
        [9, 1],
      ],
    );
    assert.deepEqual(calls[0]!.request, {
      groupId: GROUP,
      topics: [{ name: ORDERS, partitionIndexes: [2] }],
      requireStable: true,
      groups: [],
    });
    assert.equal(calls[1]!.request.requireStable, true);
    assert.equal(response!.errorCode, ErrorCode.NONE);
    assert.deepEqual(offsetsOf(response!.topics), [
      [
        ORDERS,
        [
          [2, 20n],
          [6, 60n],
        ],
      ],
    ]);
  });

  test("a companion group's error is the group's error", async () => {
    const world = groupWorld();
    const { broker } = recordingBroker(
      storedOffsets(
        { [`${GROUP}/${ORDERS}/1`]: 11n },
        { [companion(2)]: ErrorCode.GROUP_AUTHORIZATION_FAILED },
      ),
    );
    const request = fetchRequest([{ name: ORDERS, partitionIndexes: [1, 9] }]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(plain(response!.groups), [
      { groupId: GROUP, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] },
    ]);
  });

  test("a fetch of partitions v < P only is passed on unchanged", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker(storedOffsets({ [`${GROUP}/${ORDERS}/3`]: 33n }));
    const request = fetchRequest([
      { name: ORDERS, partitionIndexes: [3] },
      { name: PLAIN, partitionIndexes: [1] },
    ]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      calls.map((c) => c.request),
      [plain(request)],
    );
    assert.deepEqual(offsetsOf(response!.groups[0]!.topics), [
      [ORDERS, [[3, 33n]]],
      [PLAIN, [[1, -1n]]],
    ]);
  });

  test("v10 names topics by id: companions are asked by name, the answer keeps the ids", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker((call) => {
      if (call.nodeId === undefined) {
        return {
          throttleTimeMs: 0,
          topics: [],
          errorCode: ErrorCode.NONE,
          groups: [
            {
              groupId: GROUP,
              errorCode: ErrorCode.NONE,
              topics: [
                {
                  name: "",
                  topicId: ORDERS_ID,
                  partitions: [
                    {
                      partitionIndex: 0,
                      committedOffset: 10n,
                      committedLeaderEpoch: -1,
                      metadata: "",
                      errorCode: ErrorCode.NONE,
                    },
                  ],
                },
              ],
            },
          ],
        };
      }
      return storedOffsets({ [`${companion(4)}/${ORDERS}/0`]: 160n })(call);
    });
    const request = fetchRequest([{ name: "", topicId: ORDERS_ID, partitionIndexes: [0, 16] }]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetFetch,
      10,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(calls[0]!.request.groups[0].topics, [
      { name: "", topicId: ORDERS_ID, partitionIndexes: [0] },
    ]);
    assert.deepEqual(calls[1]!.request.groups, [askedGroup(companion(4), [[ORDERS, [0]]])]);
    assert.deepEqual(
      response!.groups[0]!.topics.map((t) => [
        t.topicId,
        t.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
      ]),
      [
        [
          ORDERS_ID,
          [
            [0, 10n],
            [16, 160n],
          ],
        ],
      ],
    );
  });
});
