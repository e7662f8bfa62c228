import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, ErrorCode, firstVersion, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { refusalResponse } from "../../../../src/protocol/refusal.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, latest, send } from "./fixtures.ts";

function mirroringBroker(call: UpstreamCall) {
  return refusalResponse(call.apiKey, call.apiVersion, call.request, ErrorCode.NONE);
}

describe("InitProducerId", () => {
  const version = latest(ApiKey.InitProducerId);
  const request = (transactionalId: string | null, enable2Pc = false) => ({
    transactionalId,
    transactionTimeoutMs: 60000,
    producerId: -1n,
    producerEpoch: -1,
    enable2Pc,
    keepPreparedTxn: false,
  });

  test("a transactional producer needs WRITE on its transactional id", async () => {
    const refused = await send(
      authorization(),
      "alice",
      ApiKey.InitProducerId,
      version,
      request("tenant-b.tx"),
    );
    assert.equal(refused.calls.length, 0);
    assert.equal(refused.response!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const allowed = await send(
      authorization(),
      "alice",
      ApiKey.InitProducerId,
      version,
      request("tenant-a.tx"),
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });

  test("two-phase commit also needs two_phase_commit on the transactional id", async () => {
    const refused = await send(
      authorization(),
      "alice",
      ApiKey.InitProducerId,
      version,
      request("tenant-a.tx", true),
    );
    assert.equal(refused.response!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  });

  test("an idempotent producer needs idempotent_write on the cluster or WRITE on some topic", async () => {
    const writer = await send(
      authorization(),
      "alice",
      ApiKey.InitProducerId,
      version,
      request(null),
      mirroringBroker,
    );
    assert.equal(writer.calls.length, 1, "alice may write tenant-a topics");
    const reader = await send(authorization(), "bob", ApiKey.InitProducerId, version, request(null));
    assert.equal(reader.calls.length, 0);
    assert.equal(reader.response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const idempotent = {
      principals: {
        bob: { rules: [{ effect: "allow", resource: "cluster", operations: ["idempotent_write"] }] },
      },
    };
    const allowed = await send(
      authorization(idempotent),
      "bob",
      ApiKey.InitProducerId,
      version,
      request(null),
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });
});

describe("AddPartitionsToTxn", () => {
  const version = firstVersion("AddPartitionsToTxnRequest", "transactions") - 1;
  const request = (transactionalId: string, topics: Record<string, number[]>) => ({
    transactions: [],
    v3AndBelowTransactionalId: transactionalId,
    v3AndBelowProducerId: 1n,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: Object.entries(topics).map(([name, partitions]) => ({ name, partitions })),
  });
  const errors = (
    results: { name: string; resultsByPartition: { partitionIndex: number; partitionErrorCode: number }[] }[],
  ) =>
    Object.fromEntries(
      results.map((t) => [t.name, t.resultsByPartition.map((p) => [p.partitionIndex, p.partitionErrorCode])]),
    );

  test("one refused topic fails the request: it gets TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED", async () => {
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.AddPartitionsToTxn,
      version,
      request("tenant-a.tx", { "tenant-a.orders": [0], bob: [1] }),
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(errors(response!.resultsByTopicV3AndBelow), {
      "tenant-a.orders": [[0, ErrorCode.OPERATION_NOT_ATTEMPTED]],
      bob: [[1, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    });
  });

  test("a transactional id the principal may not write: every partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED", async () => {
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.AddPartitionsToTxn,
      version,
      request("other", { "tenant-a.orders": [0, 1] }),
    );
    assert.deepEqual(errors(response!.resultsByTopicV3AndBelow), {
      "tenant-a.orders": [
        [0, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        [1, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
      ],
    });
  });

  test("allowed, it is passed on", async () => {
    const { calls } = await send(
      authorization(),
      "alice",
      ApiKey.AddPartitionsToTxn,
      version,
      request("tenant-a.tx", { "tenant-a.orders": [0] }),
      mirroringBroker,
    );
    assert.equal(calls.length, 1);
  });
});

describe("transactional offsets", () => {
  test("AddOffsetsToTxn: the transactional id is checked before the group", async () => {
    const version = latest(ApiKey.AddOffsetsToTxn);
    const request = (transactionalId: string, groupId: string) => ({
      transactionalId,
      producerId: 1n,
      producerEpoch: 0,
      groupId,
    });
    const txn = await send(
      authorization(),
      "alice",
      ApiKey.AddOffsetsToTxn,
      version,
      request("other", "other"),
    );
    assert.equal(txn.response!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const group = await send(
      authorization(),
      "alice",
      ApiKey.AddOffsetsToTxn,
      version,
      request("tenant-a.tx", "other"),
    );
    assert.equal(group.response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const allowed = await send(
      authorization(),
      "alice",
      ApiKey.AddOffsetsToTxn,
      version,
      request("tenant-a.tx", "tenant-a.g"),
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });

  test("TxnOffsetCommit: transactional id, then group, then each topic", async () => {
    const version = firstVersion("TxnOffsetCommitRequest", "topics.topicId") - 1;
    const request = (transactionalId: string, groupId: string) => ({
      transactionalId,
      groupId,
      producerId: 1n,
      producerEpoch: 0,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: ["tenant-a.orders", "bob"].map((name) => ({
        name,
        topicId: ZERO_UUID,
        partitions: [
          { partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: "" },
        ],
      })),
    });
    const txn = await send(
      authorization(),
      "alice",
      ApiKey.TxnOffsetCommit,
      version,
      request("other", "tenant-a.g"),
    );
    assert.equal(
      txn.response!.topics[0]!.partitions[0]!.errorCode,
      ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    );
    const group = await send(
      authorization(),
      "alice",
      ApiKey.TxnOffsetCommit,
      version,
      request("tenant-a.tx", "other"),
    );
    assert.equal(group.response!.topics[0]!.partitions[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.TxnOffsetCommit,
      version,
      request("tenant-a.tx", "tenant-a.g"),
      mirroringBroker,
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((t: { name: string }) => t.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(
      response!.topics.map((t) => [t.name, t.partitions[0]!.errorCode]),
      [
        ["tenant-a.orders", ErrorCode.NONE],
        ["bob", ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  });
});

describe("transaction listings", () => {
  const state = (transactionalId: string) => ({
    errorCode: ErrorCode.NONE,
    transactionalId,
    transactionState: "Ongoing",
    transactionTimeoutMs: 1000,
    transactionStartTimeMs: 1n,
    producerId: 1n,
    producerEpoch: 0,
    topics: [
      { topic: "tenant-a.orders", partitions: [0] },
      { topic: "bob", partitions: [0] },
    ],
  });

  test("DescribeTransactions: DESCRIBE on each id; only describable topics are shown", async () => {
    const version = latest(ApiKey.DescribeTransactions);
    const request = { transactionalIds: ["tenant-a.tx", "other"] };
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.DescribeTransactions,
      version,
      request,
      (call) => ({
        throttleTimeMs: 0,
        transactionStates: call.request.transactionalIds.map(state),
      }),
    );
    assert.deepEqual(calls[0]!.request.transactionalIds, ["tenant-a.tx"]);
    assert.deepEqual(
      response!.transactionStates.map((s) => [s.transactionalId, s.errorCode, s.topics.map((t) => t.topic)]),
      [
        ["tenant-a.tx", ErrorCode.NONE, ["tenant-a.orders"]],
        ["other", ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, []],
      ],
    );
  });

  test("ListTransactions: only ids the principal may describe", async () => {
    const version = latest(ApiKey.ListTransactions);
    const request = {
      stateFilters: [],
      producerIdFilters: [],
      durationFilter: -1n,
      transactionalIdPattern: null,
    };
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.ListTransactions,
      version,
      request,
      () => ({
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        unknownStateFilters: [],
        transactionStates: ["tenant-a.tx", "other"].map((transactionalId) => ({
          transactionalId,
          producerId: 1n,
          transactionState: "Ongoing",
        })),
      }),
    );
    assert.deepEqual(
      response!.transactionStates.map((s) => s.transactionalId),
      ["tenant-a.tx"],
    );
  });
});
