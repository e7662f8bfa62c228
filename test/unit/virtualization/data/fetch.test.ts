import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { VirtualizationContext } from "../../../../src/features/virtualization/context.ts";
import {
  ApiKey,
  ErrorCode,
  firstVersion,
  lastVersion,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import { encodeRequest } from "../../../../src/protocol/frame.ts";
import type { PartitionData } from "../../../../src/protocol/generated/messages/fetch-response.ts";
import { buildBatch, decodeRecords, iterateBatches, RecordBatchView } from "../../../../src/records/index.ts";
import { exchange, fakeConnection } from "../../../helpers/chain-harness.ts";
import {
  dataFeature,
  defined,
  MARKER,
  ordersRule,
  PLAIN_ID,
  TOPIC,
  TOPIC_ID,
  testContext,
} from "../test-context.ts";

type FetchRequest = RequestOf<typeof ApiKey.Fetch>;
type FetchResponse = ResponseOf<typeof ApiKey.Fetch>;

/** A version that names topics by id, and the last one that names them by name. */
const BY_ID = firstVersion("FetchRequest", "topics.topicId");
const BY_NAME = lastVersion("FetchRequest", "topics.topic")!;

/** `orders` as 32 virtual partitions on 4. */
function context(overrides: Partial<VirtualizationContext> = {}): VirtualizationContext {
  return testContext({ rules: ordersRule(32, 4), ...overrides });
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
  errorCode: number = ErrorCode.NONE,
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
    replicaDirectoryId: ZERO_UUID,
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

/**
 * Runs `body` through the data handlers in front of a broker that answers each Fetch with `answer(request)`;
 * `sent` holds a copy of every request that reached the broker, checked to encode at its version.
 */
async function fetch(
  ctx: VirtualizationContext,
  body: FetchRequest,
  answer: (sent: FetchRequest) => FetchResponse,
  apiVersion = BY_ID,
  connection = fakeConnection(),
) {
  const sent: FetchRequest[] = [];
  const result = await exchange(
    dataFeature(ctx),
    ApiKey.Fetch,
    apiVersion,
    body,
    (call) => {
      assert.equal(call.apiKey, ApiKey.Fetch);
      assert.equal(call.apiVersion, apiVersion);
      encodeRequest({ apiKey: ApiKey.Fetch, apiVersion, correlationId: 0, clientId: "test" }, call.request);
      sent.push(structuredClone(call.request) as FetchRequest);
      return answer(call.request as FetchRequest);
    },
    connection,
  );
  return { ...result, sent, answer: result.response! };
}

function response(partitions: PartitionData[], topicId = TOPIC_ID): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
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

describe("Fetch", () => {
  test("a fetch of plain topics only passes through raw", async () => {
    const body = request({ topics: [{ topic: "", topicId: PLAIN_ID, partitions: [partition(0, 0n)] }] });
    const plainAnswer = response([partitionData(0, null)], PLAIN_ID);
    const { intercepted, sent, answer } = await fetch(context(), body, () => plainAnswer);
    assert.equal(intercepted, false);
    assert.deepEqual(defined(sent), [body]);
    assert.deepEqual(defined(answer), plainAnswer);
  });

  test("several v on one p read it once, from the smallest offset with the largest size; answers split per v", async () => {
    const blob = Buffer.concat([
      batch(5, 10n, ["a"]),
      batch(9, 11n, ["b"]),
      batch(5, 12n, ["c"]),
      batch(13, 13n, ["d"]),
    ]);
    const { intercepted, sent, answer } = await fetch(
      context(),
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
      () => response([partitionData(1, blob), partitionData(2, null, ErrorCode.NOT_LEADER_OR_FOLLOWER)]),
    );
    assert.equal(intercepted, true);
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
    assert.equal(byV.get(2)!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, "p's error reaches its v");
    assert.equal(byV.get(40)!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test("only v's records reach it, marker stripped; runs of other v are hidden in batches without records", async () => {
    const { answer, discardedAfterReply, releasedAfterReply, responseFrames } = await fetch(
      context(),
      request({ topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] }] }),
      () =>
        response([
          partitionData(
            1,
            Buffer.concat([batch(9, 0n, ["x", "y"]), batch(5, 2n, ["mine"]), batch(13, 3n, ["z"])]),
          ),
        ]),
    );
    const records = answer.responses[0]!.partitions[0]!.records!;
    const batches = [...iterateBatches(records)].map((entry) => entry as RecordBatchView);
    assert.deepEqual(
      batches.map((b) => [b.baseOffset, b.lastOffset, b.recordsCount, b.isControl]),
      [
        [0n, 1n, 0, false],
        [2n, 2n, 1, false],
        [3n, 3n, 1, true],
      ],
    );
    assert.deepEqual(
      decodeRecords(batches[1]!).map((r) => [r.value!.toString(), r.headers]),
      [["mine", []]],
    );
    // The records are joined in one buffer from the frame pool, given back (or freed, when too small to pool)
    // once the reply is written, as is the broker's response frame; the stripped batch copied into it is freed
    // at once.
    assert.deepEqual(
      responseFrames.map((frame) => releasedAfterReply.includes(frame)),
      [true],
    );
    const freed = [...releasedAfterReply, ...discardedAfterReply].filter((b) => !responseFrames.includes(b));
    assert.equal(freed.length, 1);
    assert.deepEqual(freed[0]!.subarray(0, records.length), records);
  });

  test("an incremental fetch naming a virtualized topic is told to start a new session", async () => {
    const { sent, answer } = await fetch(
      context(),
      request({
        sessionId: 77,
        sessionEpoch: 3,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] }],
      }),
      () => assert.fail("nothing is sent"),
    );
    assert.deepEqual(defined(answer), {
      throttleTimeMs: 0,
      errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
      sessionId: 0,
      responses: [],
      nodeEndpoints: [],
    });
    assert.equal(sent.length, 0);
  });

  test("virtualized topics are dropped from forgotten topics", async () => {
    const { sent, answer } = await fetch(
      context(),
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
    assert.equal(sent[0]!.sessionId, 77);
    assert.deepEqual(
      sent[0]!.forgottenTopicsData.map((t) => t.topicId),
      [PLAIN_ID],
    );
    assert.equal(answer.sessionId, 77);
  });

  test("topics named by an id the cluster does not know get UNKNOWN_TOPIC_ID", async () => {
    const unknown = "c".repeat(32);
    const { intercepted, sent, answer } = await fetch(
      context(),
      request({
        topics: [
          { topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] },
          { topic: "", topicId: unknown, partitions: [partition(0, 0n)] },
        ],
      }),
      () => response([partitionData(1, null)]),
    );
    assert.equal(intercepted, true);
    assert.deepEqual(
      sent[0]!.topics.map((t) => t.topicId),
      [TOPIC_ID],
    );
    const unknownAnswer = answer.responses.find((t) => t.topicId === unknown)!;
    assert.deepEqual(
      unknownAnswer.partitions.map((p) => [p.partitionIndex, p.errorCode, p.records]),
      [[0, ErrorCode.UNKNOWN_TOPIC_ID, null]],
    );
  });

  test("a request naming only an id the cluster does not know is answered UNKNOWN_TOPIC_ID, never read raw", async () => {
    const unknown = "d".repeat(32);
    const body = request({ topics: [{ topic: "", topicId: unknown, partitions: [partition(3, 0n)] }] });
    let lookups = 0;
    const ctx = context();
    ctx.topics.resolveIds = async () => {
      lookups++;
    };
    const { intercepted, sent, answer } = await fetch(ctx, body, () => {
      throw new Error("nothing may be read for an unresolved id");
    });
    assert.equal(intercepted, true, "decoded to look the id up");
    assert.equal(lookups, 1);
    assert.deepEqual(sent, []);
    assert.deepEqual(
      answer.responses.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [[unknown, [[3, ErrorCode.UNKNOWN_TOPIC_ID]]]],
    );
  });

  test("an incremental fetch naming an id whose lookup failed starts over (FETCH_SESSION_ID_NOT_FOUND)", async () => {
    const unknown = "e".repeat(32);
    const ctx = context();
    ctx.topics.resolveIds = async () => {
      throw new Error("broker unreachable");
    };
    const { sent, answer } = await fetch(
      ctx,
      request({
        sessionId: 7,
        sessionEpoch: 3,
        topics: [{ topic: "", topicId: unknown, partitions: [partition(17, 0n)] }],
      }),
      () => response([]),
    );
    assert.deepEqual(sent, [], "an incremental fetch naming an unresolved id starts over");
    assert.equal(answer.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  test("when the id lookup fails, a plain topic beside it is still read and the unresolved one is refused", async () => {
    const unknown = "f".repeat(32);
    const ctx = context();
    ctx.topics.resolveIds = async () => {
      throw new Error("broker unreachable");
    };
    const { sent, answer } = await fetch(
      ctx,
      request({
        topics: [
          { topic: "", topicId: PLAIN_ID, partitions: [partition(0, 0n)] },
          { topic: "", topicId: unknown, partitions: [partition(1, 0n)] },
        ],
      }),
      () => response([partitionData(0, null)], PLAIN_ID),
    );
    assert.deepEqual(
      sent.map((r) => r.topics.map((t) => t.topicId)),
      [[PLAIN_ID]],
    );
    assert.deepEqual(
      answer.responses.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [
        [PLAIN_ID, [[0, ErrorCode.NONE]]],
        [unknown, [[1, ErrorCode.UNKNOWN_TOPIC_ID]]],
      ],
    );
  });

  test("a virtual partition named twice is read once and both entries carry its records", async () => {
    const big = Array.from({ length: 60 }, (_, i) => `${i}-${"x".repeat(1000)}`);
    const { sent, answer, discardedAfterReply } = await fetch(
      context(),
      request({
        topics: [
          {
            topic: "",
            topicId: TOPIC_ID,
            partitions: [partition(5, 0n, 1 << 20), partition(5, 0n, 1 << 20)],
          },
        ],
      }),
      () => response([partitionData(1, Buffer.concat([batch(9, 0n, ["other"]), batch(5, 1n, big)]))]),
    );
    assert.deepEqual(
      sent[0]!.topics[0]!.partitions.map((p) => p.partition),
      [1],
    );
    const entries = answer.responses[0]!.partitions;
    assert.equal(entries.length, 2);
    for (const entry of entries) assert.deepEqual(values(entry.records), big);
    for (const freed of discardedAfterReply) {
      for (const entry of entries)
        assert.notEqual(freed.buffer, entry.records!.buffer, "no answer points into freed memory");
    }
  });

  test("names before topic ids: the topic is matched by name", async () => {
    const { sent, answer } = await fetch(
      context(),
      request({ topics: [{ topic: TOPIC, topicId: ZERO_UUID, partitions: [partition(6, 0n)] }] }),
      () => ({
        ...response([]),
        responses: [
          { topic: TOPIC, topicId: ZERO_UUID, partitions: [partitionData(2, batch(6, 0n, ["x"]))] },
        ],
      }),
      BY_NAME,
    );
    assert.equal(sent[0]!.topics[0]!.topic, TOPIC);
    assert.deepEqual(
      sent[0]!.topics[0]!.partitions.map((p) => p.partition),
      [2],
    );
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["x"]);
  });

  test("rounds that find only neighbours' records are not kept until the reply; the scan stops at maxBytes", async () => {
    const ctx = context();
    const frames: Buffer[] = [];
    let rounds = 0;
    const neighbours = (offset: bigint) =>
      response([partitionData(1, batch(5, offset, ["x".repeat(2000)]), ErrorCode.NONE, offset + 1000n)]);
    const { response: answer, releasedAfterReply } = await exchange(
      dataFeature(ctx),
      ApiKey.Fetch,
      BY_ID,
      request({
        maxWaitMs: 60_000,
        maxBytes: 10_000,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (call) => {
        rounds++;
        const options = call.options!;
        const release = options.onResponseFrame!;
        options.onResponseFrame = (frame) => {
          frames.push(frame);
          release(frame);
        };
        return neighbours(call.request.topics[0]!.partitions[0]!.fetchOffset);
      },
    );
    assert.ok(rounds >= 2, "read on past the neighbours while behind");
    assert.ok(rounds <= 6, `stopped by maxBytes, not maxWaitMs (${rounds} rounds)`);
    const kept = frames.filter((frame) => releasedAfterReply.includes(frame));
    assert.deepEqual(kept, [frames.at(-1)], "only the last round's frame waits for the reply");
    const records = answer!.responses[0]!.partitions[0]!.records!;
    const batches = [...iterateBatches(records)].map((b) => b as RecordBatchView);
    assert.equal(batches.at(-1)!.lastOffset, BigInt(rounds - 1), "the hidden run moves the consumer on");
  });

  test("a read that finds only other partitions' records polls again until maxWaitMs, carrying the hidden run", async () => {
    let round = 0;
    const started = Date.now();
    const { sent, answer } = await fetch(
      context(),
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
              ErrorCode.NONE,
              offset + 3n,
            ),
          ]);
        return response([
          partitionData(1, Buffer.concat([batch(13, offset, ["d"]), batch(17, offset + 1n, ["mine"])])),
        ]);
      },
    );
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

  test("before last fetched epochs, the later reads of a long poll carry none", async () => {
    let round = 0;
    const { sent, answer } = await fetch(
      context(),
      request({
        maxWaitMs: 1000,
        topics: [{ topic: TOPIC, topicId: ZERO_UUID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        const records = ++round === 1 ? batch(5, offset, ["a"]) : batch(17, offset, ["mine"]);
        return {
          ...response([]),
          responses: [{ topic: TOPIC, topicId: ZERO_UUID, partitions: [partitionData(1, records)] }],
        };
      },
      firstVersion("FetchRequest", "topics.partitions.lastFetchedEpoch") - 1,
    );
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.topics[0]!.partitions[0]!.lastFetchedEpoch, -1);
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["mine"]);
  });

  test("a read that stops short of the end of p is followed at once (catching up is not paced)", async () => {
    const started = Date.now();
    const { sent, answer } = await fetch(
      context(),
      request({
        maxWaitMs: 5000,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        const records = offset < 20n ? batch(5, offset, ["x", "y"]) : batch(17, offset, ["mine"]);
        return response([partitionData(1, records, ErrorCode.NONE, 1000n)]);
      },
    );
    assert.equal(sent.length, 11);
    assert.ok(Date.now() - started < 500, "no pause between reads while behind");
    assert.deepEqual(values(answer.responses[0]!.partitions[0]!.records), ["mine"]);
  });

  test("a poll that never finds data answers at maxWaitMs with the run so the position advances", async () => {
    let next = 0n;
    const started = Date.now();
    const { sent, answer } = await fetch(
      context(),
      request({
        maxWaitMs: 350,
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(17, 0n)] }],
      }),
      (upstream) => {
        const offset = upstream.topics[0]!.partitions[0]!.fetchOffset;
        next = offset + 1n;
        return response([partitionData(1, batch(5, offset, ["n"]), ErrorCode.NONE, next)]);
      },
    );
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
    const { answer } = await fetch(
      context(),
      request({
        topics: [
          {
            topic: "",
            topicId: TOPIC_ID,
            partitions: [partition(5, 3n), partition(9, 50n), partition(13, 3n)],
          },
        ],
      }),
      () => response([partitionData(1, null, ErrorCode.OFFSET_OUT_OF_RANGE, -1n)]),
    );
    assert.deepEqual(
      answer.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [5, ErrorCode.OFFSET_OUT_OF_RANGE],
        [9, ErrorCode.NONE],
        [13, ErrorCode.OFFSET_OUT_OF_RANGE],
      ],
    );
  });

  test("a topic whose physical count disagrees with its rule is not read", async () => {
    const ctx = context();
    ctx.topics.learn([
      { errorCode: ErrorCode.NONE, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}, {}, {}, {}, {}] },
    ]);
    const { sent, answer } = await fetch(
      ctx,
      request({
        topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n), partition(6, 0n)] }],
      }),
      () => assert.fail("nothing is sent"),
    );
    assert.equal(sent.length, 0);
    assert.deepEqual(
      answer.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [6, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    );
  });

  test("keepMarker returns v's batches unchanged", async () => {
    const own = batch(5, 0n, ["a"]);
    const { answer, discardedAfterReply, releasedAfterReply, responseFrames } = await fetch(
      context({ keepMarker: true }),
      request({ topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(5, 0n)] }] }),
      () => response([partitionData(1, own)]),
    );
    const records = answer.responses[0]!.partitions[0]!.records!;
    assert.deepEqual(records, own);
    assert.equal(decodeRecords(new RecordBatchView(records))[0]!.headers[0]!.key, MARKER);
    assert.deepEqual(discardedAfterReply, []);
    assert.deepEqual(releasedAfterReply, responseFrames, "the records are the response frame's own bytes");
  });

  test("a consumer that is behind gets its next read from the read-ahead; a seek elsewhere reads afresh", async () => {
    const ctx = context({ readAheadBytes: 1 << 20 });
    const connection = fakeConnection();
    const log = ["a", "b", "c", "d", "e"].map((value, i) => batch(1, BigInt(i), [value]));
    const sent: { fetchOffset: bigint; maxWaitMs: number }[] = [];
    const fetchAt = async (offset: bigint) => {
      const { answer } = await fetch(
        ctx,
        request({
          maxWaitMs: 500,
          topics: [{ topic: "", topicId: TOPIC_ID, partitions: [partition(1, offset)] }],
        }),
        (upstream) => {
          const at = upstream.topics[0]!.partitions[0]!.fetchOffset;
          sent.push({ fetchOffset: at, maxWaitMs: upstream.maxWaitMs });
          return response([partitionData(1, log[Number(at)] ?? null)]);
        },
        BY_ID,
        connection,
      );
      return values(answer.responses[0]!.partitions[0]!.records);
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
