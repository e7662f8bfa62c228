import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeRequestChunks,
  encodeResponse,
  encodeResponseChunks,
  peekRequestHeader,
  peekResponseCorrelationId,
} from "../../../src/protocol/frame.ts";
import type {
  FetchResponse,
  MetadataRequest,
  ProduceRequest,
} from "../../../src/protocol/generated/index.ts";
import { ZERO_COPY_THRESHOLD } from "../../../src/protocol/primitives/writer.ts";

const ZERO_UUID = "0".repeat(32);

test("a request frame round-trips and its header can be peeked alone", () => {
  const body: MetadataRequest = {
    topics: [{ topicId: ZERO_UUID, name: "orders", unknownTaggedFields: undefined }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: true,
    unknownTaggedFields: undefined,
  };
  const frame = encodeRequest(
    { apiKey: ApiKey.Metadata, apiVersion: 12, correlationId: 42, clientId: "app" },
    body,
  );
  assert.equal(frame.readInt32BE(0), frame.length - 4);
  const payload = frame.subarray(4);
  const peeked = peekRequestHeader(payload);
  assert.deepEqual(peeked, {
    apiKey: ApiKey.Metadata,
    apiVersion: 12,
    correlationId: 42,
    clientId: "app",
    headerVersion: 2,
    bodyOffset: 2 + 2 + 4 + 2 + 3 + 1,
    knownApi: true,
  });
  const decoded = decodeRequest(payload);
  assert.equal(decoded.header.correlationId, 42);
  assert.equal(decoded.headerVersion, 2);
  assert.deepStrictEqual(decoded.body, body);
});

test("request header v1 for classic versions; a null client id", () => {
  const frame = encodeRequest(
    { apiKey: ApiKey.ApiVersions, apiVersion: 2, correlationId: 1, clientId: null },
    {
      clientSoftwareName: "",
      clientSoftwareVersion: "",
    },
  );
  assert.equal(frame.subarray(4).toString("hex"), "001200020000000" + "1" + "ffff");
  const peeked = peekRequestHeader(frame.subarray(4));
  assert.equal(peeked.headerVersion, 1);
  assert.equal(peeked.clientId, null);
});

test("a response frame round-trips; ApiVersions uses response header v0", () => {
  const body = {
    errorCode: ErrorCode.NONE,
    apiKeys: [{ apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 13, unknownTaggedFields: undefined }],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
    unknownTaggedFields: undefined,
  };
  const frame = encodeResponse(ApiKey.ApiVersions, 3, 77, body);
  const payload = frame.subarray(4);
  assert.equal(peekResponseCorrelationId(payload), 77);
  // Header v0: the body starts right after the correlation id (error code 0).
  assert.equal(payload.readInt16BE(4), ErrorCode.NONE);
  const decoded = decodeResponse(ApiKey.ApiVersions, 3, payload);
  assert.equal(decoded.correlationId, 77);
  assert.deepStrictEqual(decoded.body, body);
});

test("Produce and Fetch re-encode large records without copying them", () => {
  const records = Buffer.alloc(1024 * 1024, 1);
  const produce: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topicData: [
      {
        name: "events",
        topicId: ZERO_UUID,
        partitionData: [{ index: 0, records, unknownTaggedFields: undefined }],
        unknownTaggedFields: undefined,
      },
    ],
    unknownTaggedFields: undefined,
  };
  const chunks = encodeRequestChunks(
    { apiKey: ApiKey.Produce, apiVersion: 12, correlationId: 9, clientId: "p" },
    produce,
  );
  assert.ok(chunks.includes(records), "the records Buffer is one of the chunks");
  const joined = Buffer.concat(chunks);
  assert.equal(joined.readInt32BE(0), joined.length - 4);
  const decoded = decodeRequest(joined.subarray(4)).body as ProduceRequest;
  const slice = decoded.topicData[0].partitionData[0].records!;
  assert.equal(slice.length, records.length);
  assert.equal(slice.buffer, joined.buffer, "decoded records are a slice of the frame");

  const fetch: FetchResponse = {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [
      {
        topic: "",
        topicId: "0123456789abcdef0123456789abcdef",
        partitions: [
          {
            partitionIndex: 0,
            errorCode: ErrorCode.NONE,
            highWatermark: 10n,
            lastStableOffset: 10n,
            logStartOffset: 0n,
            divergingEpoch: { epoch: -1, endOffset: -1n, unknownTaggedFields: undefined },
            currentLeader: { leaderId: 2, leaderEpoch: 5, unknownTaggedFields: undefined },
            snapshotId: { endOffset: -1n, epoch: -1, unknownTaggedFields: undefined },
            abortedTransactions: null,
            preferredReadReplica: -1,
            records: Buffer.alloc(ZERO_COPY_THRESHOLD * 4, 3),
            unknownTaggedFields: undefined,
          },
        ],
        unknownTaggedFields: undefined,
      },
    ],
    nodeEndpoints: [],
    unknownTaggedFields: undefined,
  };
  const fetchChunks = encodeResponseChunks(ApiKey.Fetch, 16, 5, fetch);
  assert.ok(fetchChunks.includes(fetch.responses[0].partitions[0].records!));
  const back = decodeResponse(ApiKey.Fetch, 16, Buffer.concat(fetchChunks).subarray(4)).body as FetchResponse;
  assert.deepStrictEqual(back, fetch);
});
