import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { walkFetchResponse } from "../../../../src/features/traffic/fetch-response-walk.ts";
import { countBatches } from "../../../../src/features/traffic/record-batches.ts";
import { OTHER, TrafficCounts, WINDOW_SECONDS } from "../../../../src/features/traffic/traffic-counts.ts";
import {
  ApiKey,
  apiInfo,
  ErrorCode,
  firstVersion,
  hasField,
  isFlexibleResponse,
} from "../../../../src/protocol/api.ts";
import { encodeResponse } from "../../../../src/protocol/frame.ts";
import type {
  FetchResponse,
  PartitionData,
} from "../../../../src/protocol/generated/messages/fetch-response.ts";
import { buildBatch, buildEmptyBatch } from "../../../../src/records/builder.ts";

function batch(baseOffset: bigint, count: number, isControl = false): Buffer {
  return buildBatch({
    baseOffset,
    isControl,
    lastOffsetDelta: count - 1,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      key: Buffer.from(`k${i}`),
      value: Buffer.alloc(10 + i, 1),
    })),
  });
}

test("countBatches counts complete data batches: bytes as on the wire, records from their headers", () => {
  const first = batch(0n, 3);
  const second = batch(3n, 5);
  const control = batch(8n, 1, true);
  const empty = buildEmptyBatch({ baseOffset: 9n, lastOffsetDelta: 0, partitionLeaderEpoch: 0 });
  const partial = batch(10n, 4).subarray(0, 40);
  const records = Buffer.concat([first, second, control, empty, partial]);
  const counted = countBatches(records, 0, records.length);
  assert.deepEqual({ ...counted }, { bytes: first.length + second.length + empty.length, records: 3 + 5 });
  assert.deepEqual({ ...countBatches(records, 0, 0) }, { bytes: 0, records: 0 });
});

function partition(
  index: number,
  records: Buffer | null,
  errorCode: number = ErrorCode.NONE,
  flexible = true,
): PartitionData {
  return {
    partitionIndex: index,
    errorCode,
    highWatermark: 100n,
    lastStableOffset: 100n,
    logStartOffset: 0n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions:
      index === 0 ? [{ producerId: 9n, firstOffset: 10n, unknownTaggedFields: undefined }] : [],
    preferredReadReplica: -1,
    records,
    unknownTaggedFields: index === 1 && flexible ? [{ tag: 9, data: Buffer.from([1, 2, 3]) }] : undefined,
  } as PartitionData;
}

test("walkFetchResponse finds every partition's records and error codes, at every Fetch version", () => {
  const data = Buffer.concat([batch(0n, 2), batch(2n, 7)]);
  const { minVersion, maxVersion } = apiInfo(ApiKey.Fetch)!;
  for (let version = minVersion; version <= maxVersion; version++) {
    const body = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: [
        {
          topic: "alpha",
          topicId: "a".repeat(32),
          partitions: [
            partition(0, data),
            partition(1, null, ErrorCode.NOT_LEADER_OR_FOLLOWER, isFlexibleResponse(ApiKey.Fetch, version)),
          ],
          unknownTaggedFields: undefined,
        },
        {
          topic: "beta",
          topicId: "b".repeat(32),
          partitions: [partition(2, Buffer.concat([data, batch(9n, 3).subarray(0, 70)]))],
          unknownTaggedFields: undefined,
        },
      ],
      nodeEndpoints: [],
      unknownTaggedFields: undefined,
    } as unknown as FetchResponse;
    const frame = encodeResponse(ApiKey.Fetch, version, 7, body);
    const seen: string[] = [];
    walkFetchResponse(frame, version, {
      topic: (nameOrId, byId) => seen.push(`topic ${nameOrId} ${byId}`),
      partition: (errorCode, bytes, start, end) => {
        const counted = countBatches(bytes, start, end);
        seen.push(`partition ${errorCode} ${counted.bytes} ${counted.records}`);
      },
      error: (errorCode) => seen.push(`error ${errorCode}`),
    });
    const byId = hasField("FetchResponse", "responses.topicId", version);
    assert.deepEqual(
      seen,
      [
        ...(hasField("FetchResponse", "errorCode", version) ? ["error 0"] : []),
        `topic ${byId ? "a".repeat(32) : "alpha"} ${byId}`,
        `partition 0 ${data.length} 9`,
        `partition ${ErrorCode.NOT_LEADER_OR_FOLLOWER} 0 0`,
        `topic ${byId ? "b".repeat(32) : "beta"} ${byId}`,
        `partition 0 ${data.length} 9`,
      ],
      `Fetch v${version}`,
    );
  }
});

test("walkFetchResponse throws on a truncated frame instead of reading past it", () => {
  const body = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: "t", topicId: "c".repeat(32), partitions: [partition(0, batch(0n, 1))] }],
    nodeEndpoints: [],
  } as unknown as FetchResponse;
  const version = firstVersion("FetchResponse", "responses.topicId") - 1;
  const frame = encodeResponse(ApiKey.Fetch, version, 1, body);
  const visitor = { topic() {}, partition() {}, error() {} };
  assert.throws(() => walkFetchResponse(frame.subarray(0, frame.length - 20), version, visitor));
});

function counterValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

test("TrafficCounts caps topics and clients under 'other' and keeps rates over the window", async () => {
  const registry = new Registry();
  const counts = new TrafficCounts(registry, 2, 1);
  const second = 1_000_000;
  counts.topic("a", "main").produced(second, 100, 2);
  counts.topic("b", "main").produced(second, 50, 1);
  counts.topic("c", "main").produced(second, 10, 1);
  counts.topic("d", "main").fetched(second, 20, 2);
  counts.client("app", "alice").produced(second, 160, 4);
  counts.client("other-app", "bob").fetched(second, 20, 2);
  const text = await registry.metrics();
  assert.equal(counterValue(text, "kafka_proxy_produce_bytes_total", 'topic="a",cluster="main"'), 100);
  assert.equal(counterValue(text, "kafka_proxy_produce_bytes_total", `topic="${OTHER}",cluster="main"`), 10);
  assert.equal(counterValue(text, "kafka_proxy_fetch_records_total", `topic="${OTHER}",cluster="main"`), 2);
  assert.equal(counterValue(text, "kafka_proxy_produce_bytes_total", 'topic="c",cluster="main"'), undefined);
  assert.equal(
    counterValue(text, "kafka_proxy_client_produce_records_total", 'client_id="app",principal="alice"'),
    4,
  );
  assert.equal(
    counterValue(text, "kafka_proxy_client_fetch_bytes_total", `client_id="${OTHER}",principal="${OTHER}"`),
    20,
  );

  const rates = counts.rates(second + 1);
  assert.equal(rates.windowSeconds, WINDOW_SECONDS);
  const a = rates.topics.find((entry) => entry.topic === "a");
  assert.deepEqual(a, {
    topic: "a",
    cluster: "main",
    produce: { bytesPerSecond: 100 / WINDOW_SECONDS, recordsPerSecond: 2 / WINDOW_SECONDS },
    fetch: { bytesPerSecond: 0, recordsPerSecond: 0 },
  });
  assert.deepEqual(
    rates.clients.find((entry) => entry.clientId === "app"),
    {
      clientId: "app",
      principal: "alice",
      produce: { bytesPerSecond: 160 / WINDOW_SECONDS, recordsPerSecond: 4 / WINDOW_SECONDS },
      fetch: { bytesPerSecond: 0, recordsPerSecond: 0 },
    },
  );
  // A minute later the window is empty; a bucket reused for a new second starts from zero.
  counts.topic("a", "main").produced(second + WINDOW_SECONDS, 6, 1);
  const later = counts.rates(second + WINDOW_SECONDS);
  assert.equal(later.topics.find((entry) => entry.topic === "a")?.produce.bytesPerSecond, 6 / WINDOW_SECONDS);
  assert.equal(later.topics.find((entry) => entry.topic === "b")?.produce.bytesPerSecond, 0);
});
