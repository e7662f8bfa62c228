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
import type { CreatableTopic } from "../../../../src/protocol/generated/messages/create-topics-request.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import { adminFeature, defined, PLAIN, TOPIC, testContext } from "../test-context.ts";

type CreateTopicsRequest = RequestOf<typeof ApiKey.CreateTopics>;
type CreateTopicsResponse = ResponseOf<typeof ApiKey.CreateTopics>;

const VERSION = apiInfo(ApiKey.CreateTopics)!.maxVersion;

function creatable(
  name: string,
  numPartitions: number,
  overrides: Partial<CreatableTopic> = {},
): CreatableTopic {
  return { name, numPartitions, replicationFactor: 3, assignments: [], configs: [], ...overrides };
}

function request(topics: CreatableTopic[]): CreateTopicsRequest {
  return { topics, timeoutMs: 30_000, validateOnly: false };
}

/** The broker creates every topic as asked (a default count becomes 6). */
function broker(call: UpstreamCall): CreateTopicsResponse {
  return {
    throttleTimeMs: 0,
    topics: (call.request as CreateTopicsRequest).topics.map((topic) => ({
      name: topic.name,
      topicId: "c".repeat(32),
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topicConfigErrorCode: ErrorCode.NONE,
      numPartitions: topic.numPartitions === -1 ? 6 : topic.numPartitions,
      replicationFactor: topic.replicationFactor,
      configs: [],
    })),
  };
}

const sentCounts = (call: UpstreamCall) =>
  (call.request as CreateTopicsRequest).topics.map((topic) => [topic.name, topic.numPartitions]);

describe("CreateTopics", () => {
  test("a virtualized topic is created with P partitions and reported with V", async () => {
    for (const asked of [-1, 8, 4]) {
      const { calls, response } = await exchange(
        adminFeature(testContext()),
        ApiKey.CreateTopics,
        VERSION,
        request([creatable(TOPIC, asked), creatable(PLAIN, 3)]),
        broker,
      );
      assert.deepEqual(calls.map(sentCounts), [
        [
          [TOPIC, 4],
          [PLAIN, 3],
        ],
      ]);
      assert.deepEqual(
        response!.topics.map((topic) => [topic.name, topic.errorCode, topic.numPartitions]),
        [
          [TOPIC, ErrorCode.NONE, 8],
          [PLAIN, ErrorCode.NONE, 3],
        ],
        `asked for ${asked}`,
      );
    }
  });

  test("another partition count or a manual assignment is refused with the reason; the rest is created", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.CreateTopics,
      VERSION,
      request([
        creatable(TOPIC, 5),
        creatable(PLAIN, 1),
        creatable(TOPIC, -1, { replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }] }),
      ]),
      broker,
    );
    assert.deepEqual(calls.map(sentCounts), [[[PLAIN, 1]]]);
    const refusal = (errorCode: number, errorMessage: string) => ({
      name: TOPIC,
      topicId: ZERO_UUID,
      errorCode,
      errorMessage,
      topicConfigErrorCode: ErrorCode.NONE,
      numPartitions: -1,
      replicationFactor: -1,
      configs: null,
    });
    assert.deepEqual(defined(response!.topics), [
      {
        name: PLAIN,
        topicId: "c".repeat(32),
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicConfigErrorCode: ErrorCode.NONE,
        numPartitions: 1,
        replicationFactor: 3,
        configs: [],
      },
      refusal(
        ErrorCode.INVALID_PARTITIONS,
        `topic ${TOPIC} is virtualized with 8 partitions (stored on 4); create it with 8 partitions or the default`,
      ),
      refusal(
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `topic ${TOPIC} is virtualized; manual replica assignments are not supported, use a replication factor`,
      ),
    ]);
  });

  test("when every topic is refused nothing is sent", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.CreateTopics,
      VERSION,
      request([creatable(TOPIC, 2)]),
      broker,
    );
    assert.deepEqual(calls, []);
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.errorCode]),
      [[TOPIC, ErrorCode.INVALID_PARTITIONS]],
    );
  });

  test("a request of plain topics is passed on unchanged", async () => {
    const body = request([creatable(PLAIN, 3)]);
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.CreateTopics,
      VERSION,
      body,
      broker,
    );
    assert.deepEqual(defined(calls.map((call) => call.request)), [body]);
    assert.deepEqual(defined(response), broker(calls[0]!));
  });
});
