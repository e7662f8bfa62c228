import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  consumerGroupDescribeAnswer,
  consumerMember,
  GROUP,
  groupWorld,
  ORDERS,
  ORDERS_ID,
  ordersPartitionsOn,
  PLAIN,
  PLAIN_ID,
  recordingBroker,
} from "./group-fixtures.ts";

const CONSUMER_MEMBER = 1;

test("ConsumerGroupDescribe shows current and target assignments as virtual partitions", async () => {
  const world = groupWorld();
  const member = consumerMember(
    "c-1",
    5,
    CONSUMER_MEMBER,
    {
      topicPartitions: [
        { topicId: ORDERS_ID, topicName: ORDERS, partitions: [1] },
        { topicId: PLAIN_ID, topicName: PLAIN, partitions: [0, 1] },
      ],
    },
    { topicPartitions: [{ topicId: ORDERS_ID, topicName: "", partitions: [1, 2] }] },
  );
  const { broker, calls } = recordingBroker(() =>
    consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [member]),
  );
  const request = { groupIds: [GROUP], includeAuthorizedOperations: false };
  const result = await exchange(world.features, ApiKey.ConsumerGroupDescribe, 1, request, broker);
  assert.equal(result.intercepted, false);
  assert.deepEqual(
    calls.map((c) => [c.api, c.apiVersion, c.request]),
    [["ConsumerGroupDescribe", 1, request]],
  );
  const described = result.response!.groups[0]!.members[0]!;
  assert.deepEqual(
    described.assignment.topicPartitions.map((t) => [t.topicName, t.partitions]),
    [
      [ORDERS, ordersPartitionsOn(1)],
      [PLAIN, [0, 1]],
    ],
  );
  assert.deepEqual(
    described.targetAssignment.topicPartitions.map((t) => [t.topicId, t.partitions]),
    [[ORDERS_ID, [...ordersPartitionsOn(1), ...ordersPartitionsOn(2)].sort((a, b) => a - b)]],
    "a topic without a name is found by its id",
  );
});

test("ConsumerGroupDescribe without virtualized topics comes back as the broker sent it", async () => {
  const world = groupWorld();
  const member = consumerMember("c-1", 5, CONSUMER_MEMBER, {
    topicPartitions: [{ topicId: PLAIN_ID, topicName: PLAIN, partitions: [1] }],
  });
  const { broker } = recordingBroker(() => consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [member]));
  const result = await exchange(
    world.features,
    ApiKey.ConsumerGroupDescribe,
    0,
    { groupIds: [GROUP], includeAuthorizedOperations: false },
    broker,
  );
  assert.deepEqual(result.response!.groups[0]!.members[0]!.assignment.topicPartitions[0]!.partitions, [1]);
});
