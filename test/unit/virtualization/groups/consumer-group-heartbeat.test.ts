import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  clientOfCoordinator,
  GROUP,
  groupWorld,
  ORDERS_ID,
  ordersPartitionsOn,
  PLAIN,
  PLAIN_ID,
  recordingBroker,
} from "./group-fixtures.ts";

function heartbeatRequest(owned: { topicId: string; partitions: number[] }[] | null) {
  return {
    groupId: GROUP,
    memberId: "c-1",
    memberEpoch: 4,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: owned,
  };
}

function heartbeatAnswer(assigned: { topicId: string; partitions: number[] }[] | null) {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    memberId: "c-1",
    memberEpoch: 5,
    heartbeatIntervalMs: 5000,
    assignment: assigned === null ? null : { topicPartitions: assigned },
  };
}

test("ConsumerGroupHeartbeat: owned v collapse to p for the broker, the assignment expands to every v", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(() =>
    heartbeatAnswer([
      { topicId: ORDERS_ID, partitions: [3, 0] },
      { topicId: PLAIN_ID, partitions: [1] },
    ]),
  );
  const request = heartbeatRequest([
    { topicId: ORDERS_ID, partitions: [1, 5, 6, 40] },
    { topicId: PLAIN_ID, partitions: [0, 1] },
  ]);
  const { response } = await exchange(
    world.features,
    ApiKey.ConsumerGroupHeartbeat,
    1,
    request,
    broker,
    clientOfCoordinator(),
  );
  assert.deepEqual(
    calls.map((c) => [c.api, c.apiVersion, c.nodeId, c.request]),
    [
      [
        "ConsumerGroupHeartbeat",
        1,
        undefined,
        heartbeatRequest([
          { topicId: ORDERS_ID, partitions: [1, 2] },
          { topicId: PLAIN_ID, partitions: [0, 1] },
        ]),
      ],
    ],
  );
  assert.deepEqual(
    response!.assignment!.topicPartitions.map((t) => [t.topicId, t.partitions]),
    [
      [ORDERS_ID, [...ordersPartitionsOn(0), ...ordersPartitionsOn(3)].sort((a, b) => a - b)],
      [PLAIN_ID, [1]],
    ],
  );
  assert.equal(response!.memberEpoch, 5);
});

test("topic ids the proxy has not seen are looked up first; no assignment stays none", async () => {
  const world = groupWorld({
    knownTopics: [{ errorCode: ErrorCode.NONE, name: PLAIN, topicId: PLAIN_ID, partitions: [{}, {}] }],
  });
  const { broker, calls } = recordingBroker(() => heartbeatAnswer(null));
  const { response } = await exchange(
    world.features,
    ApiKey.ConsumerGroupHeartbeat,
    0,
    heartbeatRequest([{ topicId: ORDERS_ID, partitions: [4, 9] }]),
    broker,
    clientOfCoordinator(),
  );
  assert.deepEqual(
    world.adminRequests.map(([api]) => api),
    ["Metadata"],
  );
  assert.deepEqual(calls[0]!.request.topicPartitions, [{ topicId: ORDERS_ID, partitions: [0, 1] }]);
  assert.equal(response!.assignment, null);
});

test("a heartbeat without owned partitions is passed on as it is", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(() => heartbeatAnswer([{ topicId: ORDERS_ID, partitions: [2] }]));
  const request = heartbeatRequest(null);
  const { response } = await exchange(world.features, ApiKey.ConsumerGroupHeartbeat, 0, request, broker);
  assert.deepEqual(
    calls.map((c) => c.request),
    [request],
  );
  assert.deepEqual(response!.assignment!.topicPartitions[0]!.partitions, ordersPartitionsOn(2));
});
