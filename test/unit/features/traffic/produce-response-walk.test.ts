import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyMetrics } from "../../../../src/admin/metrics.ts";
import type { ApiHandler, ExchangeInfo } from "../../../../src/feature-api/feature.ts";
import type { FeatureServices } from "../../../../src/feature-api/services.ts";
import { createTraffic } from "../../../../src/features/traffic/index.ts";
import { walkProduceResponse } from "../../../../src/features/traffic/produce-response-walk.ts";
import {
  ApiKey,
  apiInfo,
  apiName,
  ErrorCode,
  firstVersion,
  hasField,
  isFlexibleResponse,
} from "../../../../src/protocol/api.ts";
import { KafkaProtocolError } from "../../../../src/protocol/errors.ts";
import { decodeResponse, encodeResponse } from "../../../../src/protocol/frame.ts";
import type {
  PartitionProduceResponse,
  ProduceResponse,
} from "../../../../src/protocol/generated/messages/produce-response.ts";

const { minVersion: OLDEST, maxVersion: NEWEST } = apiInfo(ApiKey.Produce)!;
const FIRST_FLEXIBLE = (() => {
  for (let version = OLDEST; version <= NEWEST; version++)
    if (isFlexibleResponse(ApiKey.Produce, version)) return version;
  throw new Error("no flexible Produce response version");
})();
const FIRST_BY_ID = firstVersion("ProduceResponse", "responses.topicId");

function partition(index: number, errorCode: number, version: number): PartitionProduceResponse {
  const detailed = hasField("ProduceResponse", "responses.partitionResponses.recordErrors", version);
  const withLeader = hasField("ProduceResponse", "responses.partitionResponses.currentLeader", version);
  const flexible = isFlexibleResponse(ApiKey.Produce, version);
  return {
    index,
    errorCode,
    baseOffset: errorCode === ErrorCode.NONE ? 42n : -1n,
    logAppendTimeMs: -1n,
    logStartOffset: 0n,
    recordErrors:
      detailed && errorCode !== ErrorCode.NONE
        ? [
            { batchIndex: 0, batchIndexErrorMessage: "a record refused", unknownTaggedFields: undefined },
            { batchIndex: 3, batchIndexErrorMessage: null, unknownTaggedFields: undefined },
          ]
        : [],
    errorMessage: detailed && errorCode !== ErrorCode.NONE ? "the batch was refused" : null,
    currentLeader:
      withLeader && errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER
        ? { leaderId: 3, leaderEpoch: 7, unknownTaggedFields: undefined }
        : { leaderId: -1, leaderEpoch: -1, unknownTaggedFields: undefined },
    unknownTaggedFields: flexible && index === 1 ? [{ tag: 9, data: Buffer.from([1, 2, 3]) }] : undefined,
  };
}

/** Three topics with known partition errors, the middle one with none; every optional part filled in. */
function produceResponse(version: number): { body: ProduceResponse; errorCodes: number[] } {
  const flexible = isFlexibleResponse(ApiKey.Produce, version);
  const errorCodes = [
    ErrorCode.NONE,
    ErrorCode.NOT_LEADER_OR_FOLLOWER,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.NONE,
    ErrorCode.NONE,
    ErrorCode.CORRUPT_MESSAGE,
  ];
  const partitions = errorCodes.map((code, i) => partition(i, code, version));
  const topic = (name: string, id: string, of: PartitionProduceResponse[]) => ({
    name,
    topicId: id,
    partitionResponses: of,
    unknownTaggedFields: flexible ? [{ tag: 4, data: Buffer.from("x") }] : undefined,
  });
  const body: ProduceResponse = {
    responses: [
      topic("alpha", "a".repeat(32), partitions.slice(0, 3)),
      topic("beta", "b".repeat(32), partitions.slice(3, 5)),
      topic("gamma-with-a-longer-name", "c".repeat(32), partitions.slice(5)),
    ],
    throttleTimeMs: 5,
    nodeEndpoints: hasField("ProduceResponse", "nodeEndpoints", version)
      ? [{ nodeId: 3, host: "broker-3.example", port: 9092, rack: null, unknownTaggedFields: undefined }]
      : [],
    unknownTaggedFields: flexible ? [{ tag: 7, data: Buffer.from([0]) }] : undefined,
  };
  return { body, errorCodes };
}

function errorsVisited(frame: Buffer, version: number): number[] {
  const seen: number[] = [];
  walkProduceResponse(frame, version, (errorCode) => seen.push(errorCode));
  return seen;
}

test("the versions tested include the oldest, a flexible one, one naming topics by id, and the newest", () => {
  assert.ok(OLDEST < FIRST_FLEXIBLE && FIRST_FLEXIBLE < NEWEST, `${OLDEST} ${FIRST_FLEXIBLE} ${NEWEST}`);
  assert.ok(FIRST_BY_ID <= NEWEST);
});

test("walkProduceResponse visits each partition's error code, in order, at every Produce version", () => {
  for (let version = OLDEST; version <= NEWEST; version++) {
    const { body, errorCodes } = produceResponse(version);
    const frame = encodeResponse(ApiKey.Produce, version, 11, body);
    const decoded = decodeResponse(ApiKey.Produce, version, frame.subarray(4)).body as ProduceResponse;
    assert.deepEqual(
      decoded.responses.flatMap((t) => t.partitionResponses.map((p) => p.errorCode)),
      errorCodes,
      `the encoded Produce v${version} holds the errors`,
    );
    assert.deepEqual(errorsVisited(frame, version), errorCodes, `Produce v${version}`);
  }
});

test("walkProduceResponse visits nothing in a response without partitions", () => {
  for (const version of [OLDEST, FIRST_FLEXIBLE, NEWEST]) {
    const frame = encodeResponse(ApiKey.Produce, version, 1, {
      responses: [],
      throttleTimeMs: 0,
      nodeEndpoints: [],
    });
    assert.deepEqual(errorsVisited(frame, version), [], `Produce v${version}`);
  }
});

test("walkProduceResponse throws on a frame cut before its last error code instead of reading past it", () => {
  for (const version of [OLDEST, FIRST_FLEXIBLE, NEWEST]) {
    const frame = encodeResponse(ApiKey.Produce, version, 1, produceResponse(version).body);
    const lastPartition = Buffer.alloc(6);
    lastPartition.writeInt32BE(5);
    lastPartition.writeInt16BE(ErrorCode.CORRUPT_MESSAGE, 4);
    const lastErrorCodeEnd = frame.lastIndexOf(lastPartition) + lastPartition.length;
    assert.ok(lastErrorCodeEnd > 40);
    // What follows the last error code is not read, but the partition's fixed part must be present.
    const BASE_OFFSET_BYTES = 8;
    assert.deepEqual(
      errorsVisited(frame.subarray(0, lastErrorCodeEnd + BASE_OFFSET_BYTES), version),
      produceResponse(version).errorCodes,
    );
    for (const cut of [7, 9, 40, lastErrorCodeEnd - 1])
      assert.throws(
        () => errorsVisited(frame.subarray(0, cut), version),
        KafkaProtocolError,
        `cut at ${cut}`,
      );
  }
});

function stubServices(metrics: ProxyMetrics): FeatureServices {
  const log = {
    child: () => log,
    debug() {},
    info() {},
    warn() {},
    error() {},
  };
  return {
    config: { metrics: { traffic: true, maxTopicLabels: 10, maxClientLabels: 10 } },
    topology: {},
    log,
    metrics,
    admin: { get() {} },
    requests: {},
    onReload() {},
  } as unknown as FeatureServices;
}

function produceHandler(metrics: ProxyMetrics): ApiHandler<typeof ApiKey.Produce> {
  const feature = createTraffic(stubServices(metrics));
  assert.ok(feature, "the traffic feature is on");
  const handler = feature.handlers[ApiKey.Produce];
  assert.ok(handler?.observeResponseFrame && handler.observeResponse);
  return handler;
}

function exchangeOf(version: number, internal = false): ExchangeInfo<typeof ApiKey.Produce> {
  return {
    apiKey: ApiKey.Produce,
    apiVersion: version,
    connection: { internal },
  } as unknown as ExchangeInfo<typeof ApiKey.Produce>;
}

/** `kafka_proxy_errors_total` of Produce responses, by error name. */
async function produceErrors(metrics: ProxyMetrics): Promise<Record<string, number>> {
  const counted: Record<string, number> = {};
  for (const line of (await metrics.registry.metrics()).split("\n")) {
    const match = /^kafka_proxy_errors_total\{api_key="Produce",error="(\w+)"\} (\d+)$/.exec(line);
    if (match) counted[match[1]!] = Number(match[2]);
  }
  return counted;
}

const EXPECTED = {
  NOT_LEADER_OR_FOLLOWER: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 1,
  CORRUPT_MESSAGE: 1,
};

test("the traffic feature counts the partition errors of a Produce response passed on raw, once", async () => {
  for (const version of [OLDEST, FIRST_FLEXIBLE, NEWEST]) {
    const metrics = new ProxyMetrics((apiKey) => apiName(apiKey) ?? `api-${apiKey}`);
    const handler = produceHandler(metrics);
    const frame = encodeResponse(ApiKey.Produce, version, 1, produceResponse(version).body);
    handler.observeResponseFrame!(frame, exchangeOf(version));
    assert.deepEqual(await produceErrors(metrics), EXPECTED, `Produce v${version}`);
    handler.observeResponseFrame!(frame, exchangeOf(version, true));
    assert.deepEqual(await produceErrors(metrics), EXPECTED, `the proxy's own Produce v${version}`);
  }
});

test("the traffic feature counts the partition errors of a decoded Produce response, once", async () => {
  const metrics = new ProxyMetrics((apiKey) => apiName(apiKey) ?? `api-${apiKey}`);
  const handler = produceHandler(metrics);
  handler.observeResponse!(produceResponse(NEWEST).body, exchangeOf(NEWEST));
  assert.deepEqual(await produceErrors(metrics), EXPECTED);
});

const scaled = (times: number) =>
  times === 0
    ? {}
    : Object.fromEntries(Object.entries(EXPECTED).map(([name, count]) => [name, count * times]));

test("a truncated Produce response neither throws out of the hook nor counts anything but its real errors", async () => {
  for (const version of [OLDEST, FIRST_FLEXIBLE, NEWEST]) {
    const frame = encodeResponse(ApiKey.Produce, version, 1, produceResponse(version).body);
    const metrics = new ProxyMetrics((apiKey) => apiName(apiKey) ?? `api-${apiKey}`);
    const handler = produceHandler(metrics);
    let whole = 0;
    for (let cut = 0; cut < frame.length; cut++) {
      handler.observeResponseFrame!(frame.subarray(0, cut), exchangeOf(version));
      const counted = await produceErrors(metrics);
      // The walk stops at the last error code: a frame cut after it still has every error in it.
      if (JSON.stringify(counted) !== JSON.stringify(scaled(whole))) whole++;
      assert.deepEqual(counted, scaled(whole), `Produce v${version} cut at ${cut} of ${frame.length}`);
    }
    assert.ok(whole > 0 && whole < frame.length / 2, `Produce v${version}: ${whole} cuts counted`);
  }
});
