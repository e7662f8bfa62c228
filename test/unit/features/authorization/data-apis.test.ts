import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ApiKey,
  ErrorCode,
  firstVersion,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import { refusalResponse } from "../../../../src/protocol/refusal.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, type Body, latest, send } from "./fixtures.ts";

const PRODUCE_BY_NAME = firstVersion("ProduceRequest", "topicData.topicId") - 1;
const PRODUCE_BY_ID = firstVersion("ProduceRequest", "topicData.topicId");
const FETCH_BY_NAME = firstVersion("FetchRequest", "topics.topicId") - 1;
const FETCH_BY_ID = firstVersion("FetchRequest", "topics.topicId");
const ORDERS_ID = "a".repeat(32);
const SECRET_ID = "b".repeat(32);
const UNKNOWN_ID = "c".repeat(32);
const topicIds = {
  nameOf: (id: string) => ({ [ORDERS_ID]: "tenant-a.orders", [SECRET_ID]: "tenant-a.secret" })[id],
};

function produceRequest(topics: { name?: string; topicId?: string; partitions: number[] }[], acks = 1) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 1000,
    topicData: topics.map((topic) => ({
      name: topic.name ?? "",
      topicId: topic.topicId ?? ZERO_UUID,
      partitionData: topic.partitions.map((index) => ({ index, records: null })),
    })),
  } satisfies RequestOf<typeof ApiKey.Produce>;
}

/** A broker that accepts every partition it is sent, at offset 42. */
function acceptingProduce(call: UpstreamCall): ResponseOf<typeof ApiKey.Produce> {
  return {
    throttleTimeMs: 0,
    nodeEndpoints: [],
    responses: call.request.topicData.map((topic: Body) => ({
      name: topic.name,
      topicId: topic.topicId,
      partitionResponses: topic.partitionData.map((partition: Body) => ({
        index: partition.index,
        errorCode: ErrorCode.NONE,
        baseOffset: 42n,
        logAppendTimeMs: -1n,
        logStartOffset: 0n,
        recordErrors: [],
        errorMessage: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
      })),
    })),
  };
}

function errorsByTopic(
  responses: { name: string; topicId: string; partitionResponses: Body[] }[],
  byId = false,
) {
  return Object.fromEntries(
    responses.map((topic) => [
      byId ? topic.topicId : topic.name,
      topic.partitionResponses.map((partition) => partition.errorCode),
    ]),
  );
}

describe("Produce", () => {
  test("a partly refused request: allowed topics reach the broker, refused ones get TOPIC_AUTHORIZATION_FAILED", async () => {
    const request = produceRequest([
      { name: "tenant-a.orders", partitions: [0, 1] },
      { name: "tenant-b.orders", partitions: [0] },
      { name: "tenant-a.secret", partitions: [2] },
    ]);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      request,
      acceptingProduce,
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(
      calls[0]!.request.topicData.map((topic: Body) => topic.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(errorsByTopic(response!.responses), {
      "tenant-a.orders": [ErrorCode.NONE, ErrorCode.NONE],
      "tenant-b.orders": [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      "tenant-a.secret": [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    });
    const refused = response!.responses.find((topic) => topic.name === "tenant-b.orders")!
      .partitionResponses[0]!;
    assert.equal(refused.baseOffset, -1n);
  });

  test("a fully allowed request is passed on unchanged", async () => {
    const request = produceRequest([{ name: "tenant-a.orders", partitions: [0] }]);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      request,
      acceptingProduce,
    );
    assert.deepEqual(
      calls[0]!.request.topicData.map((topic: Body) => [
        topic.name,
        topic.partitionData.map((p: Body) => p.index),
      ]),
      [["tenant-a.orders", [0]]],
    );
    assert.equal(response!.responses[0]!.partitionResponses[0]!.baseOffset, 42n);
  });

  test("a fully refused request does not reach the broker", async () => {
    const request = produceRequest([{ name: "tenant-b.orders", partitions: [0, 1] }]);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      request,
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(errorsByTopic(response!.responses), {
      "tenant-b.orders": [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    });
  });

  test("acks=0: refused topics are dropped and nothing is answered", async () => {
    const request = produceRequest(
      [
        { name: "tenant-a.orders", partitions: [0] },
        { name: "tenant-b.orders", partitions: [0] },
      ],
      0,
    );
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      request,
      () => undefined,
    );
    assert.equal(response, undefined);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.options?.expectResponse, false);
    assert.deepEqual(
      calls[0]!.request.topicData.map((topic: Body) => topic.name),
      ["tenant-a.orders"],
    );
    const none = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      produceRequest([{ name: "x", partitions: [0] }], 0),
    );
    assert.equal(none.response, undefined);
    assert.equal(none.calls.length, 0);
  });

  test("a transactional producer needs WRITE on its transactional id, or every partition is refused", async () => {
    const request = {
      ...produceRequest([{ name: "tenant-a.orders", partitions: [0, 1] }]),
      transactionalId: "tenant-b.tx",
    };
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      request,
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(errorsByTopic(response!.responses), {
      "tenant-a.orders": [
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      ],
    });
    const allowed = { ...request, transactionalId: "tenant-a.tx" };
    const passed = await send(
      authorization(),
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_NAME,
      allowed,
      acceptingProduce,
    );
    assert.equal(passed.calls.length, 1);
  });

  test("topics named by id are checked by their names; an id no one knows gets UNKNOWN_TOPIC_ID", async () => {
    const request = produceRequest([
      { topicId: ORDERS_ID, partitions: [0] },
      { topicId: SECRET_ID, partitions: [0] },
      { topicId: UNKNOWN_ID, partitions: [0] },
    ]);
    const feature = authorization(undefined, { topics: topicIds });
    const { response, calls } = await send(
      feature,
      "alice",
      ApiKey.Produce,
      PRODUCE_BY_ID,
      request,
      acceptingProduce,
    );
    assert.deepEqual(
      calls[0]!.request.topicData.map((topic: Body) => topic.topicId),
      [ORDERS_ID],
    );
    assert.deepEqual(errorsByTopic(response!.responses, true), {
      [ORDERS_ID]: [ErrorCode.NONE],
      [SECRET_ID]: [ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      [UNKNOWN_ID]: [ErrorCode.UNKNOWN_TOPIC_ID],
    });
  });

  test("unknown ids are looked up before they are refused", async () => {
    const names = new Map<string, string>();
    const lookups: string[][] = [];
    const topics = {
      nameOf: (id: string) => names.get(id),
      resolveIds: async (ids: string[]) => {
        lookups.push(ids);
        names.set(ORDERS_ID, "tenant-a.orders");
      },
    };
    const feature = authorization(undefined, { topics });
    const request = produceRequest([{ topicId: ORDERS_ID, partitions: [0] }]);
    const { calls } = await send(feature, "alice", ApiKey.Produce, PRODUCE_BY_ID, request, acceptingProduce);
    assert.deepEqual(lookups, [[ORDERS_ID]]);
    assert.equal(calls.length, 1);
    // An id the cluster does not know is not looked up again at once.
    const unknown = produceRequest([{ topicId: UNKNOWN_ID, partitions: [0] }]);
    await send(feature, "alice", ApiKey.Produce, PRODUCE_BY_ID, unknown);
    await send(feature, "alice", ApiKey.Produce, PRODUCE_BY_ID, unknown);
    assert.deepEqual(lookups, [[ORDERS_ID], [UNKNOWN_ID]]);
  });
});

function fetchRequest(topics: { topic?: string; topicId?: string; partitions: number[] }[], version: number) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: topics.map((topic) => ({
      topic: topic.topic ?? "",
      topicId: topic.topicId ?? ZERO_UUID,
      partitions: topic.partitions.map((partition) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: 0n,
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
        replicaDirectoryId: ZERO_UUID,
        highWatermark: -1n,
      })),
    })),
    forgottenTopicsData: [],
    rackId: "",
    version,
  };
}

function fetchAnswer(call: UpstreamCall): ResponseOf<typeof ApiKey.Fetch> {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    nodeEndpoints: [],
    responses: call.request.topics.map((topic: Body) => ({
      topic: topic.topic,
      topicId: topic.topicId,
      partitions: topic.partitions.map((partition: Body) => ({
        partitionIndex: partition.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: 10n,
        lastStableOffset: 10n,
        logStartOffset: 0n,
        divergingEpoch: { epoch: -1, endOffset: -1n },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1n, epoch: -1 },
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: Buffer.alloc(0),
      })),
    })),
  };
}

describe("Fetch", () => {
  test("READ on each topic: refused topics are not fetched and get TOPIC_AUTHORIZATION_FAILED", async () => {
    const { version: _, ...request } = fetchRequest(
      [
        { topic: "tenant-a.orders", partitions: [0] },
        { topic: "bob", partitions: [0, 1] },
      ],
      FETCH_BY_NAME,
    );
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Fetch,
      FETCH_BY_NAME,
      request,
      fetchAnswer,
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((topic: Body) => topic.topic),
      ["tenant-a.orders"],
    );
    const errors = Object.fromEntries(
      response!.responses.map((topic) => [topic.topic, topic.partitions.map((p) => p.errorCode)]),
    );
    assert.deepEqual(errors, {
      "tenant-a.orders": [ErrorCode.NONE],
      bob: [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
    });
  });

  test("topic ids are resolved to names; a fetch left with no topic still goes on (its session answers)", async () => {
    const { version: _, ...request } = fetchRequest([{ topicId: SECRET_ID, partitions: [0] }], FETCH_BY_ID);
    const feature = authorization(undefined, { topics: topicIds });
    const { response, calls } = await send(feature, "alice", ApiKey.Fetch, FETCH_BY_ID, request, fetchAnswer);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.request.topics, []);
    assert.deepEqual(
      response!.responses.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode]),
      [[SECRET_ID, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    );
  });

  test("a fetch session's answer for a topic the principal may not read does not get out", async () => {
    const { version: _, ...request } = fetchRequest(
      [{ topic: "tenant-a.orders", partitions: [0] }],
      FETCH_BY_NAME,
    );
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.Fetch,
      FETCH_BY_NAME,
      request,
      (call) => {
        const answer = fetchAnswer(call);
        const other = fetchAnswer({
          ...call,
          request: { topics: [{ topic: "bob", topicId: ZERO_UUID, partitions: [{ partition: 0 }] }] },
        });
        answer.responses.push(...other.responses);
        return answer;
      },
    );
    assert.deepEqual(
      response!.responses.map((topic) => topic.topic),
      ["tenant-a.orders"],
    );
  });

  test("a follower's fetch needs cluster_action", async () => {
    const { version: _, ...request } = fetchRequest(
      [{ topic: "tenant-a.orders", partitions: [0] }],
      FETCH_BY_NAME,
    );
    const { response, calls } = await send(authorization(), "alice", ApiKey.Fetch, FETCH_BY_NAME, {
      ...request,
      replicaId: 1,
    });
    assert.equal(calls.length, 0);
    assert.equal(response!.responses[0]!.partitions[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });
});

/** A broker that answers every entry without error, as the refusal builder mirrors requests. */
function mirroringBroker(call: UpstreamCall) {
  return refusalResponse(call.apiKey, call.apiVersion, call.request, ErrorCode.NONE);
}

describe("partition APIs", () => {
  test("ListOffsets: DESCRIBE on each topic", async () => {
    const request = {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 1000,
      topics: [
        {
          name: "tenant-a.orders",
          partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }],
        },
        { name: "bob", partitions: [{ partitionIndex: 3, currentLeaderEpoch: -1, timestamp: -1n }] },
      ],
    };
    const version = latest(ApiKey.ListOffsets);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.ListOffsets,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((topic: Body) => topic.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(
      response!.topics.map((topic) => [
        topic.name,
        topic.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset]),
      ]),
      [
        ["tenant-a.orders", [[0, ErrorCode.NONE, -1n]]],
        ["bob", [[3, ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1n]]],
      ],
    );
  });

  test("OffsetForLeaderEpoch: DESCRIBE on each topic", async () => {
    const request = {
      replicaId: -1,
      topics: [{ topic: "bob", partitions: [{ partition: 0, currentLeaderEpoch: 1, leaderEpoch: 1 }] }],
    };
    const version = latest(ApiKey.OffsetForLeaderEpoch);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.OffsetForLeaderEpoch,
      version,
      request,
    );
    assert.equal(calls.length, 0);
    const { errorCode, partition, leaderEpoch, endOffset } = response!.topics[0]!.partitions[0]!;
    assert.deepEqual(
      [errorCode, partition, leaderEpoch, endOffset],
      [ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0, -1, -1n],
    );
  });

  test("DeleteRecords: DELETE on each topic", async () => {
    const request = {
      timeoutMs: 1000,
      topics: [{ name: "tenant-a.orders", partitions: [{ partitionIndex: 0, offset: 5n }] }],
    };
    const config = {
      principals: {
        alice: {
          rules: [{ effect: "allow", resource: "topic", pattern: "tenant-a.orders", operations: ["read"] }],
        },
      },
    };
    const version = latest(ApiKey.DeleteRecords);
    const refused = await send(authorization(config), "alice", ApiKey.DeleteRecords, version, request);
    assert.equal(refused.response!.topics[0]!.partitions[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const deleting = {
      principals: {
        alice: {
          rules: [{ effect: "allow", resource: "topic", pattern: "tenant-a.orders", operations: ["delete"] }],
        },
      },
    };
    const allowed = await send(
      authorization(deleting),
      "alice",
      ApiKey.DeleteRecords,
      version,
      request,
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });

  test("DescribeProducers: READ on each topic", async () => {
    const request = { topics: [{ name: "bob", partitionIndexes: [0, 1] }] };
    const version = latest(ApiKey.DescribeProducers);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.DescribeProducers,
      version,
      request,
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(
      response!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [0, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [1, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  });
});
