import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  groupLevelError,
  needsCompanions,
  planCommit,
} from "../../../../src/features/virtualization/groups/offset-commit.ts";
import type { VirtualLayout } from "../../../../src/features/virtualization/mapping/rules.ts";
import { ApiKey, ErrorCode, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  clientOfCoordinator,
  companion,
  GROUP,
  groupWorld,
  ORDERS,
  ORDERS_ID,
  PLAIN,
  PLAIN_ID,
  partitionErrors,
  plain,
  recordingBroker,
} from "./group-fixtures.ts";
import {
  acceptCommits,
  commitPartition,
  commitRequest,
  companionCommit,
  companionCommits,
  physicalPartition,
  realCommitFields,
} from "./offset-commit-fixtures.ts";

const layout: VirtualLayout = { topic: "orders", virtualPartitions: 32, physicalPartitions: 4, groups: 8 };
const layoutOf = (name: string) => (name === "orders" ? layout : undefined);

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
      { to: "error", code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    const byId = planCommit(topics, 10, (t) => t.name, layoutOf);
    assert.deepEqual(
      byId.routes[0]![5],
      { to: "error", code: ErrorCode.UNKNOWN_TOPIC_ID },
      "v10 names topics by id",
    );
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
    assert.equal(groupLevelError(answer([ErrorCode.NONE, ErrorCode.NONE])), ErrorCode.NONE);
    assert.equal(
      groupLevelError(
        answer([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_METADATA_TOO_LARGE]),
      ),
      ErrorCode.NONE,
    );
    assert.equal(
      groupLevelError(answer([ErrorCode.NONE, ErrorCode.ILLEGAL_GENERATION])),
      ErrorCode.ILLEGAL_GENERATION,
    );
    assert.equal(
      groupLevelError(answer([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID])),
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    assert.equal(groupLevelError(answer([ErrorCode.STALE_MEMBER_EPOCH])), ErrorCode.STALE_MEMBER_EPOCH);
  });
});

describe("OffsetCommit handler", () => {
  test("v < P commits under the real group, v >= P under companion g on its coordinator, v >= V fails", async () => {
    const world = groupWorld({ coordinatorOf: (group) => (group === companion(1) ? 1 : 2) });
    const { broker, calls } = recordingBroker((call) =>
      acceptCommits(call, { [`${companion(2)}/${ORDERS}/1`]: ErrorCode.OFFSET_METADATA_TOO_LARGE }),
    );
    const request = commitRequest([
      { name: ORDERS, partitions: [0, 3, 4, 9, 31, 32] },
      { name: PLAIN, partitions: [7] },
    ]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetCommit,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );

    assert.deepEqual(
      calls.map((c) => [c.api, c.apiVersion, c.nodeId]).slice(0, 1),
      [["OffsetCommit", 8, undefined]],
      "the real group's commit goes first, on the client's connection at the client's version",
    );
    assert.deepEqual(calls[0]!.request, {
      ...realCommitFields,
      topics: [
        { name: ORDERS, topicId: ZERO_UUID, partitions: [physicalPartition(0, 0), physicalPartition(3, 3)] },
        { name: PLAIN, topicId: ZERO_UUID, partitions: [physicalPartition(7, 7)] },
      ],
    });
    const companions = companionCommits(calls);
    assert.equal(calls.length, 4);
    assert.deepEqual(
      companions.map((c) => [c.request.groupId, c.nodeId, c.apiVersion]),
      [
        [companion(1), 1, 9],
        [companion(2), 2, 9],
        [companion(7), 2, 9],
      ],
      "companion commits at the newest version that names topics",
    );
    assert.deepEqual(
      companions.map((c) => c.request),
      [companionCommit(1, [[0, 4]]), companionCommit(2, [[1, 9]]), companionCommit(7, [[3, 31]])],
    );
    assert.deepEqual(partitionErrors(response!), [
      [
        ORDERS,
        [
          [0, ErrorCode.NONE],
          [3, ErrorCode.NONE],
          [4, ErrorCode.NONE],
          [9, ErrorCode.OFFSET_METADATA_TOO_LARGE],
          [31, ErrorCode.NONE],
          [32, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
      [PLAIN, [[7, ErrorCode.NONE]]],
    ]);
    assert.deepEqual(
      world.negotiated.map(([node, api, bounds, version]) => [node, api, bounds, version]),
      [
        [1, "OffsetCommit", { max: 9 }, 9],
        [2, "OffsetCommit", { max: 9 }, 9],
      ],
    );
  });

  test("companion commits go at the broker's newest version when it is older than the bound", async () => {
    const world = groupWorld({ brokerMaxVersions: { [ApiKey.OffsetCommit]: 7 } });
    const { broker, calls } = recordingBroker((call) => acceptCommits(call));
    const request = commitRequest([{ name: ORDERS, partitions: [1, 6] }]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetCommit,
      7,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      companionCommits(calls).map((c) => [c.request.groupId, c.apiVersion]),
      [[companion(1), 7]],
    );
    assert.deepEqual(partitionErrors(response!), [
      [
        ORDERS,
        [
          [1, ErrorCode.NONE],
          [6, ErrorCode.NONE],
        ],
      ],
    ]);
  });

  test("a commit of partitions v < P only is passed on unchanged", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker((call) => acceptCommits(call));
    const request = commitRequest([
      { name: ORDERS, partitions: [0, 3] },
      { name: PLAIN, partitions: [9] },
    ]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetCommit,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.request, plain(request));
    assert.deepEqual(partitionErrors(response!), [
      [
        ORDERS,
        [
          [0, ErrorCode.NONE],
          [3, ErrorCode.NONE],
        ],
      ],
      [PLAIN, [[9, ErrorCode.NONE]]],
    ]);
  });

  test("a member the real group fences moves no companion offset", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker((call) =>
      acceptCommits(call, {
        [`${GROUP}/${ORDERS}/2`]: ErrorCode.ILLEGAL_GENERATION,
      }),
    );
    const request = commitRequest([{ name: ORDERS, partitions: [2, 6, 40] }]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetCommit,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      calls.map((c) => [c.api, c.nodeId]),
      [["OffsetCommit", undefined]],
    );
    assert.deepEqual(partitionErrors(response!), [
      [
        ORDERS,
        [
          [2, ErrorCode.ILLEGAL_GENERATION],
          [6, ErrorCode.ILLEGAL_GENERATION],
          [40, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
    ]);
  });

  test("v10 names topics by id: companions commit by name, an out-of-range v gets UNKNOWN_TOPIC_ID", async () => {
    const world = groupWorld();
    const { broker, calls } = recordingBroker((call) => acceptCommits(call));
    const request = commitRequest([
      { name: "", topicId: ORDERS_ID, partitions: [1, 13, 32] },
      { name: "", topicId: PLAIN_ID, partitions: [0] },
    ]);
    const { response } = await exchange(
      world.features,
      ApiKey.OffsetCommit,
      10,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(calls[0]!.request.topics, [
      { name: "", topicId: ORDERS_ID, partitions: [physicalPartition(1, 1)] },
      { name: "", topicId: PLAIN_ID, partitions: [physicalPartition(0, 0)] },
    ]);
    assert.deepEqual(
      companionCommits(calls).map((c) => [c.apiVersion, c.request]),
      [[9, companionCommit(3, [[1, 13]])]],
    );
    assert.deepEqual(
      response!.topics.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [
        [
          ORDERS_ID,
          [
            [1, ErrorCode.NONE],
            [13, ErrorCode.NONE],
            [32, ErrorCode.UNKNOWN_TOPIC_ID],
          ],
        ],
        [PLAIN_ID, [[0, ErrorCode.NONE]]],
      ],
    );
  });
});
