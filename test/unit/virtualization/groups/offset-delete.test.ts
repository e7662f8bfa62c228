import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  type BrokerCall,
  CLIENT_NODE,
  clientOfCoordinator,
  companion,
  describeGroupsAnswer,
  GROUP,
  groupWorld,
  ORDERS,
  PLAIN,
  partitionErrors,
  recordingBroker,
} from "./group-fixtures.ts";

function deleteRequest(groupId: string, topics: [string, number[]][]) {
  return {
    groupId,
    topics: topics.map(([name, partitions]) => ({
      name,
      partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
    })),
  };
}

/** The broker deletes every offset asked for, unless `errors` names the partition (`group/topic/partition`). */
function deleteOffsets(call: BrokerCall, errors: Record<string, number> = {}) {
  return {
    errorCode: ErrorCode.NONE,
    throttleTimeMs: 0,
    topics: call.request.topics.map((t: { name: string; partitions: { partitionIndex: number }[] }) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: errors[`${call.request.groupId}/${t.name}/${p.partitionIndex}`] ?? ErrorCode.NONE,
      })),
    })),
  };
}

test("OffsetDelete: v < P under the real group, v >= P under companion g for p, v >= V unknown", async () => {
  const world = groupWorld({ coordinatorOf: () => 2 });
  const { broker, calls } = recordingBroker((call) => deleteOffsets(call));
  const request = deleteRequest(GROUP, [
    [ORDERS, [1, 21, 25, 40]],
    [PLAIN, [2]],
  ]);
  const { response } = await exchange(
    world.features,
    ApiKey.OffsetDelete,
    0,
    request,
    broker,
    clientOfCoordinator(),
  );
  assert.deepEqual(
    calls.map((c) => [c.api, c.apiVersion, c.nodeId, c.request]),
    [
      [
        "OffsetDelete",
        0,
        undefined,
        deleteRequest(GROUP, [
          [ORDERS, [1]],
          [PLAIN, [2]],
        ]),
      ],
      ["OffsetDelete", 0, 2, deleteRequest(companion(5), [[ORDERS, [1]]])],
      ["OffsetDelete", 0, 2, deleteRequest(companion(6), [[ORDERS, [1]]])],
    ],
  );
  assert.deepEqual(partitionErrors(response!), [
    [
      ORDERS,
      [
        [1, ErrorCode.NONE],
        [21, ErrorCode.NONE],
        [25, ErrorCode.NONE],
        [40, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    ],
    [PLAIN, [[2, ErrorCode.NONE]]],
  ]);
});

test("a topic the real group is subscribed to keeps its companion offsets", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker((call) =>
    deleteOffsets(call, { [`${GROUP}/${ORDERS}/1`]: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }),
  );
  const request = deleteRequest(GROUP, [[ORDERS, [1, 5]]]);
  const { response } = await exchange(
    world.features,
    ApiKey.OffsetDelete,
    0,
    request,
    broker,
    clientOfCoordinator(),
  );
  assert.equal(calls.length, 1);
  assert.deepEqual(partitionErrors(response!), [
    [
      ORDERS,
      [
        [1, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC],
        [5, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC],
      ],
    ],
  ]);
});

test("companion partitions only: a group with members keeps them, an empty one loses them", async () => {
  const request = deleteRequest(GROUP, [[ORDERS, [9]]]);
  const active = groupWorld();
  const busy = recordingBroker(() => describeGroupsAnswer(GROUP, ErrorCode.NONE, ["m-1"]));
  const refused = await exchange(
    active.features,
    ApiKey.OffsetDelete,
    0,
    request,
    busy.broker,
    clientOfCoordinator(),
  );
  assert.deepEqual(
    busy.calls.map((c) => [c.api, c.apiVersion, c.nodeId, c.request]),
    [["DescribeGroups", 6, undefined, { groups: [GROUP], includeAuthorizedOperations: false }]],
  );
  assert.deepEqual(active.negotiated, [[CLIENT_NODE, "DescribeGroups", undefined, 6]]);
  assert.deepEqual(partitionErrors(refused.response!), [
    [ORDERS, [[9, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]]],
  ]);

  const empty = groupWorld();
  const idle = recordingBroker((call) =>
    call.api === "DescribeGroups"
      ? describeGroupsAnswer(GROUP, ErrorCode.GROUP_ID_NOT_FOUND)
      : deleteOffsets(call),
  );
  const accepted = await exchange(
    empty.features,
    ApiKey.OffsetDelete,
    0,
    request,
    idle.broker,
    clientOfCoordinator(),
  );
  assert.deepEqual(
    idle.calls.map((c) => [c.api, c.nodeId, c.request.groupId ?? c.request.groups]),
    [
      ["DescribeGroups", undefined, [GROUP]],
      ["OffsetDelete", 1, companion(2)],
    ],
  );
  assert.deepEqual(partitionErrors(accepted.response!), [[ORDERS, [[9, ErrorCode.NONE]]]]);
});

test("a group-level error of the real group is the answer", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(() => ({
    errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
    throttleTimeMs: 0,
    topics: [],
  }));
  const { response } = await exchange(
    world.features,
    ApiKey.OffsetDelete,
    0,
    deleteRequest(GROUP, [[ORDERS, [0, 4]]]),
    broker,
    clientOfCoordinator(),
  );
  assert.equal(calls.length, 1);
  assert.equal(response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.deepEqual(response!.topics, []);
});

test("an OffsetDelete without partitions v >= P is passed on unchanged", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker((call) => deleteOffsets(call));
  const request = deleteRequest(GROUP, [
    [ORDERS, [0, 3]],
    [PLAIN, [7]],
  ]);
  await exchange(world.features, ApiKey.OffsetDelete, 0, request, broker, clientOfCoordinator());
  assert.deepEqual(
    calls.map((c) => [c.nodeId, c.request]),
    [[undefined, request]],
  );
});
