import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  type BrokerCall,
  GROUP,
  groupWorld,
  ORDERS,
  ORDERS_ID,
  PLAIN,
  PLAIN_ID,
  partitionErrors,
  recordingBroker,
} from "./group-fixtures.ts";

function txnCommit(topics: { name: string; topicId?: string; partitions: number[] }[]) {
  return {
    transactionalId: "tx-1",
    groupId: GROUP,
    producerId: 42n,
    producerEpoch: 0,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: topics.map((t) => ({
      name: t.name,
      topicId: t.topicId ?? ZERO_UUID,
      partitions: t.partitions.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: 100n,
        committedLeaderEpoch: -1,
        committedMetadata: null,
      })),
    })),
  };
}

function accepted(call: BrokerCall) {
  return {
    throttleTimeMs: 0,
    topics: call.request.topics.map(
      (t: { name: string; topicId: string; partitions: { partitionIndex: number }[] }) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
        })),
      }),
    ),
  };
}

test("TxnOffsetCommit naming a virtualized topic is refused for every partition, nothing reaches the broker", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(accepted);
  const request = txnCommit([
    { name: PLAIN, partitions: [0] },
    { name: ORDERS, partitions: [0, 9] },
  ]);
  const { response } = await exchange(world.features, ApiKey.TxnOffsetCommit, 3, request, broker);
  assert.deepEqual(calls, []);
  assert.deepEqual(partitionErrors(response!), [
    [PLAIN, [[0, ErrorCode.INVALID_REQUEST]]],
    [
      ORDERS,
      [
        [0, ErrorCode.INVALID_REQUEST],
        [9, ErrorCode.INVALID_REQUEST],
      ],
    ],
  ]);
});

test("TxnOffsetCommit v6 names topics by id: a virtualized one is refused too", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(accepted);
  const request = txnCommit([{ name: "", topicId: ORDERS_ID, partitions: [3] }]);
  const { response } = await exchange(world.features, ApiKey.TxnOffsetCommit, 6, request, broker);
  assert.deepEqual(calls, []);
  assert.deepEqual(
    response!.topics.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
    [[ORDERS_ID, [[3, ErrorCode.INVALID_REQUEST]]]],
  );
});

test("TxnOffsetCommit v6 with a topic id the proxy has not seen looks it up before deciding", async () => {
  const world = groupWorld({ knownTopics: [] });
  const { broker, calls } = recordingBroker(accepted);
  const request = txnCommit([{ name: "", topicId: ORDERS_ID, partitions: [3] }]);
  const { response } = await exchange(world.features, ApiKey.TxnOffsetCommit, 6, request, broker);
  assert.deepEqual(
    world.adminRequests.map(([api]) => api),
    ["Metadata"],
  );
  assert.deepEqual(calls, []);
  assert.equal(response!.topics[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_REQUEST);
});

test("TxnOffsetCommit on plain topics passes through unchanged", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(accepted);
  const byName = txnCommit([{ name: PLAIN, partitions: [0, 1] }]);
  const { response } = await exchange(world.features, ApiKey.TxnOffsetCommit, 3, byName, broker);
  assert.deepEqual(
    calls.map((c) => [c.api, c.apiVersion, c.nodeId, c.request]),
    [["TxnOffsetCommit", 3, undefined, byName]],
  );
  assert.deepEqual(partitionErrors(response!), [
    [
      PLAIN,
      [
        [0, ErrorCode.NONE],
        [1, ErrorCode.NONE],
      ],
    ],
  ]);
  const byId = txnCommit([{ name: "", topicId: PLAIN_ID, partitions: [1] }]);
  const v6 = recordingBroker(accepted);
  await exchange(world.features, ApiKey.TxnOffsetCommit, 6, byId, v6.broker);
  assert.deepEqual(
    v6.calls.map((c) => c.request),
    [byId],
  );
});
