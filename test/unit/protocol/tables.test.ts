import assert from "node:assert/strict";
import { test } from "node:test";
import { KafkaProtocolError } from "../../../src/protocol/errors.ts";
import type { FetchRequest } from "../../../src/protocol/generated/messages/fetch-request.ts";
import type { MetadataResponse } from "../../../src/protocol/generated/messages/metadata-response.ts";
import {
  API_KEYS,
  ApiKey,
  type ApiName,
  apiName,
  ErrorCode,
  FIELD_VERSIONS,
  fieldVersions,
  firstVersion,
  hasField,
  isApiKey,
  isFlexibleRequest,
  isFlexibleResponse,
  isRetriable,
  KAFKA_ERRORS,
  kafkaError,
  lastVersion,
  type RequestOf,
  type ResponseOf,
  requestHeaderVersion,
  responseHeaderVersion,
} from "../../../src/protocol/generated/tables.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

test("ApiKey names every API with valid versions by its key", () => {
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.Fetch, 1);
  assert.equal(ApiKey.Metadata, 3);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.DescribeTopicPartitions, 75);
  assert.deepEqual(
    Object.entries(ApiKey).map(([name, key]) => [key, name]),
    API_KEYS.map((api) => [api.apiKey, api.name]),
  );
  assert.equal(apiName(ApiKey.OffsetCommit), "OffsetCommit");
  assert.equal(isApiKey(ApiKey.Fetch), true);
  assert.equal(isApiKey(7), false);
  assert.equal(isApiKey(9999), false);
  const name: ApiName = apiName(ApiKey.FindCoordinator);
  assert.equal(name, "FindCoordinator");
});

test("the error table holds Kafka's codes, messages and retriability", () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6);
  assert.equal(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 29);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_ID, 100);
  assert.equal(ErrorCode.CONTROLLER_ID_NOT_REGISTERED, 136);
  assert.equal(KAFKA_ERRORS.length, 138);
  assert.equal(new Set(KAFKA_ERRORS.map((e) => e.code)).size, KAFKA_ERRORS.length);
  assert.deepEqual(Object.keys(ErrorCode), [...KAFKA_ERRORS.map((e) => e.name)]);

  assert.equal(kafkaError(-1)?.name, "UNKNOWN_SERVER_ERROR");
  assert.equal(
    kafkaError(-1)?.message,
    "The server experienced an unexpected error when processing the request.",
  );
  assert.deepEqual(kafkaError(ErrorCode.NONE), { name: "NONE", code: 0, retriable: false, message: null });
  // A message concatenated across lines in Errors.java.
  assert.equal(
    kafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)?.message,
    "The group member's supported protocols are incompatible with those of existing members " +
      "or first group member tried to join with empty protocol type or empty protocol list.",
  );
  assert.equal(kafkaError(9999), undefined);

  // UnknownTopicOrPartitionException and NotLeaderOrFollowerException extend InvalidMetadataException,
  // which extends RetriableException.
  assert.equal(isRetriable(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), true);
  assert.equal(isRetriable(ErrorCode.NOT_LEADER_OR_FOLLOWER), true);
  assert.equal(isRetriable(ErrorCode.LEADER_NOT_AVAILABLE), true);
  assert.equal(isRetriable(ErrorCode.UNKNOWN_TOPIC_ID), true);
  assert.equal(isRetriable(ErrorCode.REQUEST_TIMED_OUT), true);
  assert.equal(isRetriable(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS), true);
  assert.equal(isRetriable(ErrorCode.NOT_COORDINATOR), true);
  assert.equal(isRetriable(ErrorCode.TOPIC_AUTHORIZATION_FAILED), false);
  assert.equal(isRetriable(ErrorCode.UNKNOWN_SERVER_ERROR), false);
  assert.equal(isRetriable(ErrorCode.REBALANCE_IN_PROGRESS), false);
  assert.equal(isRetriable(ErrorCode.OFFSET_OUT_OF_RANGE), false);
  assert.equal(isRetriable(ErrorCode.NONE), false);
  assert.equal(isRetriable(9999), false);
});

test("flexible versions and header versions without numbers in the caller", () => {
  assert.equal(isFlexibleRequest(ApiKey.Fetch, 11), false);
  assert.equal(isFlexibleRequest(ApiKey.Fetch, 12), true);
  assert.equal(isFlexibleResponse(ApiKey.Produce, 8), false);
  assert.equal(isFlexibleResponse(ApiKey.Produce, 9), true);
  assert.equal(isFlexibleRequest(ApiKey.SaslHandshake, 1), false);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  // ApiVersions response bodies become flexible at v3, but their header stays v0 (KIP-511).
  const apiVersions = API_KEYS.find((api) => api.apiKey === ApiKey.ApiVersions)!;
  assert.equal(isFlexibleResponse(ApiKey.ApiVersions, apiVersions.maxVersion), true);
  for (let v = apiVersions.minVersion; v <= apiVersions.maxVersion + 1; v++) {
    assert.equal(responseHeaderVersion(ApiKey.ApiVersions, v), 0, `v${v}`);
  }
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, apiVersions.maxVersion), 2);
  assert.throws(() => isFlexibleRequest(9999, 0), KafkaProtocolError);
  assert.throws(() => isFlexibleResponse(4, 0), KafkaProtocolError);
});

test("field versions answer 'from which version' questions by field path", () => {
  assert.equal(firstVersion("FetchRequest", "topics.topicId"), 13);
  assert.equal(lastVersion("FetchRequest", "topics.topic"), 12);
  assert.equal(firstVersion("FetchRequest", "topics.partitions.lastFetchedEpoch"), 12);
  assert.equal(firstVersion("OffsetCommitRequest", "topics.topicId"), 10);
  assert.equal(lastVersion("OffsetCommitRequest", "topics.name"), 9);
  assert.deepEqual(fieldVersions("ProduceResponse", "nodeEndpoints"), { first: 10, last: null, tag: 0 });
  assert.deepEqual(fieldVersions("ProduceResponse", "nodeEndpoints.host"), { first: 10, last: null });
  assert.deepEqual(fieldVersions("FetchRequest", "clusterId"), { first: 12, last: null, tag: 0 });
  // Versions below the message's minimum (Fetch starts at v4) are left out.
  assert.deepEqual(fieldVersions("FetchRequest", "replicaId"), { first: 4, last: 14 });
  assert.equal(hasField("FetchRequest", "replicaId", 14), true);
  assert.equal(hasField("FetchRequest", "replicaId", 15), false);
  assert.equal(hasField("FetchRequest", "topics.topicId", 12), false);
  assert.equal(hasField("FetchRequest", "topics.topicId", 99), true);
  assert.equal(firstVersion("RequestHeader", "clientId"), 1);
  assert.equal(firstVersion("MetadataResponse", "topics.topicId"), 10);
  for (const api of API_KEYS) {
    assert.ok(`${api.name}Request` in FIELD_VERSIONS, api.name);
    assert.ok(`${api.name}Response` in FIELD_VERSIONS, api.name);
  }
});

test("typed lookups reject misspelt names and map API keys to message types", () => {
  const requestType: Equal<RequestOf<typeof ApiKey.Fetch>, FetchRequest> = true;
  const responseType: Equal<ResponseOf<typeof ApiKey.Metadata>, MetadataResponse> = true;
  const errorType: Equal<typeof ErrorCode.UNKNOWN_TOPIC_ID, 100> = true;
  assert.ok(requestType && responseType && errorType);
  const misspelt = () => {
    // @ts-expect-error the field is topicId
    firstVersion("FetchRequest", "topics.topicID");
    // @ts-expect-error nested fields need their parent's path
    firstVersion("FetchRequest", "topicId");
    // @ts-expect-error message names end in Request or Response
    firstVersion("Fetch", "topics");
    // @ts-expect-error not an error name
    void ErrorCode.UNKNOWN_TOPIC;
    // @ts-expect-error not an API name
    void ApiKey.ControlledShutdown;
  };
  assert.throws(misspelt, TypeError);
});
