import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { VirtualizationContext } from "../../../src/features/virtualization/context.ts";
import { FetchError, VirtualFetch } from "../../../src/features/virtualization/fetch.ts";
import { VirtualizationRules } from "../../../src/features/virtualization/rules.ts";
import { TopicIndex } from "../../../src/features/virtualization/topic-index.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { encodeRequest, encodeResponse } from "../../../src/protocol/frame.ts";
import type { FetchRequest } from "../../../src/protocol/generated/messages/fetch-request.ts";
import type {
  FetchResponse,
  PartitionData,
} from "../../../src/protocol/generated/messages/fetch-response.ts";
import type { Exchange } from "../../../src/proxy/feature.ts";
import { buildBatch, decodeRecords, iterateBatches, RecordBatchView } from "../../../src/records/index.ts";

const MARKER = "__kpp_vp";
const TOPIC = "orders";
const TOPIC_ID = "a".repeat(32);
const PLAIN_ID = "b".repeat(32);

function context(keepMarker = false): VirtualizationContext {
  const topics = new TopicIndex(async () => ({ topics: [] }), silentLogger);
  topics.learn([
    { errorCode: 0, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}, {}, {}] },
    { errorCode: 0, name: "plain", topicId: PLAIN_ID, partitions: [{}] },
  ]);
  return {
    rules: new VirtualizationRules(
      [{ pattern: /^orders$/, source: "orders", virtualPartitions: 32, physicalPartitions: 4 }],
      [],
    ),
    topics,
    markerHeader: MARKER,
    keepMarker,
    log: silentLogger,
    requestAnyBroker: async () => ({ topics: [] }),
  };
}

function batch(v: number, baseOffset: bigint, values: string[]): Buffer {
  return buildBatch({
    baseOffset,
    partitionLeaderEpoch: 2,
    records: values.map((value) => ({ value, headers: [{ key: MARKER, value: String(v) }] })),
  });
}

function partitionData(
  partitionIndex: number,
  records: Buffer | null,
  errorCode = 0,
  end = 100n,
): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: end,
    lastStableOffset: end,
    logStartOffset: 0n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records,
  };
}

function partition(v: number, fetchOffset: bigint, partitionMaxBytes = 1000) {
  return {
    partition: v,
    currentLeaderEpoch: 2,
    fetchOffset,
    lastFetchedEpoch: -1,
    logStartOffset: -1n,
    partitionMaxBytes,
    replicaDirectoryId: "0".repeat(32),
    highWatermark: 0x7fffffffffffffffn,
  };
}

function request(overrides: Partial<FetchRequest>): FetchRequest {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: 0,
    topics: [],
    forgottenTopicsData: [],
    rackId: "",
    ...overrides,
  };
}

/** An exchange whose broker answers each Fetch with `answer(request)`; every sent request is recorded. */
function exchange(body: FetchRequest, answer: (sent: FetchRequest) => FetchResponse, apiVersion = 17) {
  const sent: FetchRequest[] = [];
  const value = {
    apiKey: 1,
    apiVersion,
    clientId: "test",
    brokerId: 1,
    log: silentLogger,
    request: body,
    correlationId: 1,
    connectionState: new Map<string, unknown>(),
    send: async (_key: number, version: number, upstream: unknown) => {
      // What goes upstream must encode at the client's version.
      encodeRequest({ apiKey: 1, apiVersion: version, correlationId: 0, clientId: "test" }, upstream);
      sent.push(structuredClone(upstream) as FetchRequest);
      const body = answer(upstream as FetchRequest);
      encodeResponse(1, version, 0, body);
      return body;
    },
    releaseAfterReply: () => {},
    discardAfterReply: () => {},
    sendToNode: async () => {
      throw new Error("unexpected");
    },
  } satisfies Exchange;
  return { exchange: value, sent };
}

/** The feature's answer, checked to encode at the request's version as the pipeline will. */
async function answered(feature: VirtualFetch, ex: Exchange): Promise<FetchResponse> {
  const body = (await feature.intercept(ex)) as FetchResponse;
  encodeResponse(1, ex.apiVersion, ex.correlationId, body);
  return body;
}

function response(partitions: PartitionData[], topicId = TOPIC_ID): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{ topic: "", topicId, partitions }],
    nodeEndpoints: [],
  };
}

function values(records: Buffer | null): string[] {
  const out: string[] = [];
  for (const entry of iterateBatches(records ?? Buffer.alloc(0))) {
    const view = entry as RecordBatchView;
    if (view.isControl) continue;
    for (const record of decodeRecords(view)) {
      assert.ok(!record.headers.some((h) => h.key === MARKER));
      out.push(record.value!.toString());
    }
  }
  return out;
}

function lastOffset(records: Buffer | null): bigint {
  let last = -1n;
  for (const entry of iterateBatches(records ?? Buffer.alloc(0)))
    last = (entry as RecordBatchView).lastOffset;
  return last;
}

describe("VirtualFetch", () => {
  test("a fetch of plain topics only passes through untouched", () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex } = exchange(
      request({ topics: [{ topic: "", topicId: PLAIN_ID, partitions: [partition(0, 0n)] }] }),
      () => assert.fail("nothing is sent"),
    );
    assert.equal(feature.intercept(ex), undefined);
  });

  test("several v on one p read it once, from the smallest offset with the largest size; answers split per v", async () => {
    const feature = new VirtualFetch(context());
    const blob = Buffer.concat([
      batch(5, 10n, ["a"]),
      batch(9, 11n, ["b"]),
      batch(5, 12n, ["c"]),
      batch(13, 13n, ["d"]),
    ]);
    const { exchange: ex, sent } = exchange(
      request({
        sessionEpoch: 0,
        topics: [
          {
            topic: "",
            topicId: TOPIC_ID,
            partitions: [partition(5, 12n, 500), partition(9, 10n, 700), partition(2, 0n), partition(40, 0n)],
          },
        ],
      }),
      () => response([partitionData(1, blob), partitionData(2, null, 6)]),
    );
    const answer = await answered(feature, ex);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.sessionId, 0);
    assert.equal(sent[0]!.sessionEpoch, -1);
    assert.deepEqual(
      sent[0]!.topics[0]!.partitions.map((p) => [p.partition, p.fetchOffset, p.partitionMaxBytes]),
      [
        [1, 10n, 700],
        [2, 0n, 1000],
      ],
    );
    assert.equal(answer.sessionId, 0);
    const byV = new Map(answer.responses[0]!.partitions.map((p) => [p.partitionIndex, p]));
    assert.deepEqual([...byV.keys()], [5, 9, 2, 40]);
    assert.deepEqual(values(byV.get(5)!.records), ["c"]);
    assert.deepEqual(values(byV.get(9)!.records), ["b"]);
    assert.equal(lastOffset(byV.get(5)!.records), 13n);
    assert.equal(lastOffset(byV.get(9)!.records), 13n);
    assert.equal(byV.get(5)!.highWatermark, 100n);
    assert.equal(byV.get(2)!.errorCode, 6, "p's error reaches its v");
    assert.equal(byV.get(40)!.errorCode, FetchError.unknownTopicOrPartition);
  });

  test("an incremental fetch naming a virtualized topic is told to start a new session", async () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex, sent } = exchange(
      request({
        sessionId: 77,
        sessionEpoch: 3,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] }],
      }),
      () => assert.fail("nothing is sent"),
    );
    const answer = await answered(feature, ex);
    assert.equal(answer.errorCode, FetchError.fetchSessionIdNotFound);
    assert.equal(answer.sessionId, 0);
    assert.equal(sent.length, 0);
  });

  test("virtualized topics are dropped from forgotten topics", async () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex, sent } = exchange(
      request({
        sessionId: 77,
        sessionEpoch: 3,
        topics: [{ topic: "", topicId: PLAIN_ID, partitions: [partition(0, 0n)] }],
        forgottenTopicsData: [
          { topic: "", topicId: TOPIC_ID, partitions: [5] },
          { topic: "", topicId: PLAIN_ID, partitions: [1] },
        ],
      }),
      () => ({ ...response([partitionData(0, null)], PLAIN_ID), sessionId: 77 }),
    );
    const answer = await answered(feature, ex);
    assert.equal(sent[0]!.sessionId, 77);
    assert.deepEqual(
      sent[0]!.forgottenTopicsData.map((t) => t.topicId),
      [PLAIN_ID],
    );
    assert.equal(answer.sessionId, 77);
  });

  test("topics named by an id the cluster does not know get UNKNOWN_TOPIC_ID", async () => {
    const feature = new VirtualFetch(context());
    const unknown = "c".repeat(32);
    const { exchange: ex } = exchange(
      request({
        topics: [
          { topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] },
          { topic: "", topicId: unknown, partitions: [partition(0, 0n)] },
        ],
      }),
      () => response([partitionData(1, null)]),
    );
    const answer = await answered(feature, ex);
    const unknownAnswer = answer.responses.find((t) => t.topicId === unknown)!;
    assert.equal(unknownAnswer.partitions[0]!.errorCode, FetchError.unknownTopicId);
  });

  test("names before v13: the topic is matched by name", async () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex, sent } = exchange(
      request({ topics: [{ topic: TOPIC, topicId: "0".repeat(32), partitions: [partition(6, 0n)] }] }),
      () => ({
        ...response([partitionData(2, batch(6, 0n, ["x"]))]),
        responses: [
          { topic: TOPIC, topicId: "0".repeat(32), partitions: [partitionData(2, batch(6, 0n, ["x"]))] },
        ],
      }),
      11,
    );
    const answer = await answered(feature, ex);
    assert.equal(sent[0]!.topics[0]!.topic, TOPIC);
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["x"]);
  });

  test("a read that finds only other partitions' records polls again until maxWaitMs, carrying the hidden run", async () => {
    const feature = new VirtualFetch(context());
    let round = 0;
    const { exchange: ex, sent } = exchange(
      request({
        maxWaitMs: 1000,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        round++;
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        if (round === 1)
          return response([
            partitionData(
              1,
              Buffer.concat([batch(5, offset, ["a", "b"]), batch(9, offset + 2n, ["c"])]),
              0,
              offset + 3n,
            ),
          ]);
        return response([
          partitionData(1, Buffer.concat([batch(13, offset, ["d"]), batch(17, offset + 1n, ["mine"])])),
        ]);
      },
    );
    const started = Date.now();
    const answer = await answered(feature, ex);
    assert.equal(sent.length, 2);
    assert.equal(
      sent[1]!.topics[0]!.partitions[0]!.fetchOffset,
      3n,
      "the second read starts after the first",
    );
    assert.equal(sent[1]!.topics[0]!.partitions[0]!.lastFetchedEpoch, 2);
    assert.ok(Date.now() - started >= 90, "reads are spaced");
    const records = answer.responses[0]!.partitions[0]!.records!;
    const batches = [...iterateBatches(records)].map((b) => b as RecordBatchView);
    assert.deepEqual(
      batches.map((b) => [b.baseOffset, b.lastOffset, b.recordsCount]),
      [
        [0n, 3n, 0],
        [4n, 4n, 1],
      ],
    );
    assert.deepEqual(values(records), ["mine"]);
  });

  test("before v12 the later reads of a long poll carry no last fetched epoch", async () => {
    const feature = new VirtualFetch(context());
    let round = 0;
    const { exchange: ex, sent } = exchange(
      request({
        maxWaitMs: 1000,
        topics: [{ topic: TOPIC, topicId: "0".repeat(32), partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        const records = ++round === 1 ? batch(5, offset, ["a"]) : batch(17, offset, ["mine"]);
        return {
          ...response([]),
          responses: [{ topic: TOPIC, topicId: "0".repeat(32), partitions: [partitionData(1, records)] }],
        };
      },
      11,
    );
    const answer = await answered(feature, ex);
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.topics[0]!.partitions[0]!.lastFetchedEpoch, -1);
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["mine"]);
  });

  test("a read that stops short of the end of p is followed at once (catching up is not paced)", async () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex, sent } = exchange(
      request({
        maxWaitMs: 5000,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        const records = offset < 20n ? batch(5, offset, ["x", "y"]) : batch(17, offset, ["mine"]);
        return response([partitionData(1, records, 0, 1000n)]);
      },
    );
    const started = Date.now();
    const answer = await answered(feature, ex);
    assert.equal(sent.length, 11);
    assert.ok(Date.now() - started < 500, "no pause between reads while behind");
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["mine"]);
  });

  test("a poll that never finds data answers at maxWaitMs with the run so the position advances", async () => {
    const feature = new VirtualFetch(context());
    let next = 0n;
    const { exchange: ex, sent } = exchange(
      request({
        maxWaitMs: 350,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        next = offset + 1n;
        return response([partitionData(1, batch(5, offset, ["n"]), 0, next)]);
      },
    );
    const started = Date.now();
    const answer = await answered(feature, ex);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 340 && elapsed < 1000, `answered after ${elapsed} ms`);
    assert.ok(sent.length >= 3 && sent.length <= 5, `${sent.length} reads`);
    const records = answer.responses[0]!.partitions[0]!.records!;
    const batches = [...iterateBatches(records)].map((b) => b as RecordBatchView);
    assert.equal(batches.length, 1);
    assert.ok(batches[0]!.isControl);
    assert.equal(batches[0]!.baseOffset, 0n);
    assert.equal(batches[0]!.lastOffset, next - 1n);
  });

  test("OFFSET_OUT_OF_RANGE on a read led by a lower v reaches only the v at that offset", async () => {
    const feature = new VirtualFetch(context());
    const { exchange: ex } = exchange(
      request({
        topics: [
          {
            topic: "",
            topicId: TOPIC_ID,
            partitions: [partition(5, 3n), partition(9, 50n), partition(13, 3n)],
          },
        ],
      }),
      () => response([partitionData(1, null, FetchError.offsetOutOfRange, -1n)]),
    );
    const answer = await answered(feature, ex);
    assert.deepEqual(
      answer.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [5, FetchError.offsetOutOfRange],
        [9, FetchError.none],
        [13, FetchError.offsetOutOfRange],
      ],
    );
  });

  test("a topic whose physical count disagrees with its rule is not read", async () => {
    const ctx = context();
    ctx.topics.learn([
      { errorCode: 0, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}, {}, {}, {}, {}] },
    ]);
    const feature = new VirtualFetch(ctx);
    const { exchange: ex, sent } = exchange(
      request({
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n), partition(6, 0n)] }],
      }),
      () => assert.fail("nothing is sent"),
    );
    const answer = await answered(feature, ex);
    assert.equal(sent.length, 0);
    assert.deepEqual(
      answer.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [5, FetchError.unknownTopicOrPartition],
        [6, FetchError.unknownTopicOrPartition],
      ],
    );
  });

  test("keepMarker returns v's batches unchanged", async () => {
    const feature = new VirtualFetch(context(true));
    const own = batch(5, 0n, ["a"]);
    const { exchange: ex } = exchange(
      request({ topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] }] }),
      () => response([partitionData(1, own)]),
    );
    const answer = await answered(feature, ex);
    const records = answer.responses[0]!.partitions[0]!.records!;
    assert.deepEqual(records, own);
    assert.equal(decodeRecords(new RecordBatchView(records))[0]!.headers[0]!.key, MARKER);
  });

  test("a consumer that is behind gets its next read from the read-ahead; a seek elsewhere reads afresh", async () => {
    const feature = new VirtualFetch(context(), { readAheadBytes: 1 << 20 });
    const state = new Map<string, unknown>();
    const log = ["a", "b", "c", "d", "e"].map((value, i) => batch(1, BigInt(i), [value]));
    const sent: { fetchOffset: bigint; maxWaitMs: number }[] = [];
    const fetchAt = async (offset: bigint) => {
      const { exchange: ex } = exchange(
        request({
          maxWaitMs: 500,
          topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(1, offset)] }],
        }),
        (upstream) => {
          const at = upstream.topics[0]!.partitions[0]!.fetchOffset;
          sent.push({ fetchOffset: at, maxWaitMs: upstream.maxWaitMs });
          return response([partitionData(1, log[Number(at)] ?? null)]);
        },
      );
      const withState = { ...ex, connectionState: state };
      return values((await answered(feature, withState)).responses[0]!.partitions[0]!.records);
    };
    assert.deepEqual(await fetchAt(0n), ["a"]);
    assert.deepEqual(await fetchAt(1n), ["b"]);
    assert.deepEqual(await fetchAt(4n), ["e"]);
    assert.deepEqual(
      sent.map((s) => [Number(s.fetchOffset), s.maxWaitMs > 0 ? "wait" : "now"]),
      [
        [0, "wait"],
        [1, "now"],
        [2, "now"],
        [4, "wait"],
        [5, "now"],
      ],
    );
  });
});
