import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ApiKey,
  apiInfo,
  ErrorCode,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import type { MetadataResponseTopic } from "../../../../src/protocol/generated/messages/metadata-response.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import { adminFeature, defined, PLAIN, PLAIN_ID, TOPIC, TOPIC_ID, testContext } from "../test-context.ts";

type MetadataRequest = RequestOf<typeof ApiKey.Metadata>;
type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;
type DescribeTopicPartitionsResponse = ResponseOf<typeof ApiKey.DescribeTopicPartitions>;

const VERSION = apiInfo(ApiKey.Metadata)!.maxVersion;

/** A topic of `count` partitions; partition p is led by broker 10 + p, with leader epoch p. */
function topic(name: string, topicId: string, count: number): MetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name,
    topicId,
    isInternal: false,
    partitions: Array.from({ length: count }, (_, p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p,
      leaderId: 10 + p,
      leaderEpoch: p,
      replicaNodes: [10 + p, 20 + p],
      isrNodes: [10 + p],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: -2147483648,
  };
}

function metadataResponse(topics: MetadataResponseTopic[]): MetadataResponse {
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 10, host: "b10", port: 9092, rack: null }],
    clusterId: "cluster",
    controllerId: 10,
    topics,
    clusterAuthorizedOperations: -2147483648,
    errorCode: ErrorCode.NONE,
  };
}

function metadataRequest(names: string[] | null): MetadataRequest {
  return {
    topics: names === null ? null : names.map((name) => ({ topicId: ZERO_UUID, name })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

describe("Metadata", () => {
  test("a virtualized topic shows V partitions, each with the leader, replicas and epoch of p = v mod P", async () => {
    const ctx = testContext();
    const { intercepted, calls, response } = await exchange(
      adminFeature(ctx),
      ApiKey.Metadata,
      VERSION,
      metadataRequest([TOPIC, PLAIN]),
      () => metadataResponse([topic(TOPIC, TOPIC_ID, 4), topic(PLAIN, PLAIN_ID, 1)]),
    );
    assert.equal(intercepted, true, "decoded, to see whether it asks for auto-creation");
    assert.equal(calls.length, 1);
    const [orders, plain] = response!.topics;
    assert.deepEqual(
      orders!.partitions.map((p) => [
        p.partitionIndex,
        p.leaderId,
        p.leaderEpoch,
        p.replicaNodes,
        p.isrNodes,
      ]),
      [0, 1, 2, 3, 4, 5, 6, 7].map((v) => [
        v,
        10 + (v % 4),
        v % 4,
        [10 + (v % 4), 20 + (v % 4)],
        [10 + (v % 4)],
      ]),
    );
    assert.deepEqual(defined(plain), topic(PLAIN, PLAIN_ID, 1));
    assert.equal(ctx.topics.get(TOPIC)?.partitions, 4, "the directory learns the physical count");
  });

  test("a topic whose physical count disagrees with its rule is refused to requests that name it", async () => {
    const ctx = testContext();
    const { response } = await exchange(
      adminFeature(ctx),
      ApiKey.Metadata,
      VERSION,
      metadataRequest([TOPIC, PLAIN]),
      () => metadataResponse([topic(TOPIC, TOPIC_ID, 3), topic(PLAIN, PLAIN_ID, 1)]),
    );
    assert.deepEqual(
      response!.topics.map((t) => [t.name, t.errorCode, t.partitions.length]),
      [
        [TOPIC, ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
        [PLAIN, ErrorCode.NONE, 1],
      ],
    );
    assert.equal(ctx.topics.get(TOPIC)?.partitions, 3);
  });

  test("requests for all topics leave a refused topic out", async () => {
    const answer = () => metadataResponse([topic(TOPIC, TOPIC_ID, 3), topic(PLAIN, PLAIN_ID, 1)]);
    const { response } = await exchange(
      adminFeature(testContext()),
      ApiKey.Metadata,
      VERSION,
      metadataRequest(null),
      answer,
    );
    assert.deepEqual(
      response!.topics.map((t) => t.name),
      [PLAIN],
    );
    const oldest = apiInfo(ApiKey.Metadata)!.minVersion;
    const { response: allByEmptyList } = await exchange(
      adminFeature(testContext()),
      ApiKey.Metadata,
      oldest,
      { ...metadataRequest([]), allowAutoTopicCreation: true },
      answer,
    );
    assert.deepEqual(
      allByEmptyList!.topics.map((t) => t.name),
      [PLAIN],
      "the oldest version asks for all topics with an empty list",
    );
  });

  test("a topic with an error is left alone", async () => {
    const failed = { ...topic(TOPIC, TOPIC_ID, 0), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    const { response } = await exchange(
      adminFeature(testContext()),
      ApiKey.Metadata,
      VERSION,
      metadataRequest([TOPIC]),
      () => metadataResponse([failed]),
    );
    assert.deepEqual(defined(response!.topics), [failed]);
  });
});

describe("DescribeTopicPartitions", () => {
  test("a virtualized topic shows V partitions with p's leader", async () => {
    const physical = topic(TOPIC, TOPIC_ID, 4);
    const { intercepted, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.DescribeTopicPartitions,
      apiInfo(ApiKey.DescribeTopicPartitions)!.maxVersion,
      { topics: [{ name: TOPIC }], responsePartitionLimit: 2000, cursor: null },
      (): DescribeTopicPartitionsResponse => ({
        throttleTimeMs: 0,
        nextCursor: null,
        topics: [
          {
            ...physical,
            partitions: physical.partitions.map((p) => ({
              ...p,
              eligibleLeaderReplicas: null,
              lastKnownElr: null,
            })),
          },
        ],
      }),
    );
    assert.equal(intercepted, false);
    assert.deepEqual(
      response!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.leaderId]),
      [0, 1, 2, 3, 4, 5, 6, 7].map((v) => [v, 10 + (v % 4)]),
    );
  });

  test("auto-creation is turned off for a virtualized topic the cluster lacks; plain topics keep it", async () => {
    const context = testContext();
    context.topics.forget(TOPIC);
    const virtual = await exchange(
      adminFeature(context),
      ApiKey.Metadata,
      VERSION,
      { ...metadataRequest([TOPIC]), allowAutoTopicCreation: true },
      () => metadataResponse([]),
    );
    assert.equal((virtual.calls[0]!.request as MetadataRequest).allowAutoTopicCreation, false);

    const plain = await exchange(
      adminFeature(context),
      ApiKey.Metadata,
      VERSION,
      { ...metadataRequest(["new-plain-topic"]), allowAutoTopicCreation: true },
      () => metadataResponse([]),
    );
    assert.equal((plain.calls[0]!.request as MetadataRequest).allowAutoTopicCreation, true);

    const existing = await exchange(
      adminFeature(testContext()),
      ApiKey.Metadata,
      VERSION,
      { ...metadataRequest([TOPIC]), allowAutoTopicCreation: true },
      () => metadataResponse([topic(TOPIC, TOPIC_ID, 4)]),
    );
    assert.equal(
      (existing.calls[0]!.request as MetadataRequest).allowAutoTopicCreation,
      true,
      "a virtualized topic that exists needs nothing",
    );
  });
});
