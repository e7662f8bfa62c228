import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import {
  decodeFetchResponseTail,
  encodeFetchResponseTail,
  type FetchResponseTail,
  FetchResponseTailFinder,
  TAIL_PADDING_TAG,
} from "../../../src/protocol/fetch-response-tail.ts";
import { decodeResponse, encodeResponse } from "../../../src/protocol/frame.ts";
import type {
  FetchResponse,
  PartitionData,
} from "../../../src/protocol/generated/messages/fetch-response.ts";

function partition(index: number, recordBytes: number, leaderError = false): PartitionData {
  return {
    partitionIndex: index,
    errorCode: leaderError ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE,
    highWatermark: 1000n,
    lastStableOffset: 1000n,
    logStartOffset: 0n,
    divergingEpoch: { epoch: index % 3 === 0 ? 4 : -1, endOffset: index % 3 === 0 ? 90n : -1n },
    currentLeader: leaderError ? { leaderId: 2, leaderEpoch: 7 } : { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions:
      index % 2 === 0 ? [{ producerId: 9n, firstOffset: 10n, unknownTaggedFields: undefined }] : null,
    preferredReadReplica: -1,
    records: leaderError ? null : Buffer.alloc(recordBytes, index + 1),
    unknownTaggedFields: index % 4 === 1 ? [{ tag: 9, data: Buffer.from([1, 2, 3]) }] : undefined,
  } as PartitionData;
}

function response(sizes: number[][], endpoints = false): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 77,
    responses: sizes.map((partitionSizes, t) => ({
      topic: `topic-${t}`,
      topicId: `${t}`.repeat(32).slice(0, 32),
      partitions: partitionSizes.map((bytes, p) => partition(p, bytes, endpoints && p === 0)),
      unknownTaggedFields: undefined,
    })),
    nodeEndpoints: endpoints
      ? [
          {
            nodeId: 2,
            host: "broker-2.kafka.internal",
            port: 9092,
            rack: "a",
            unknownTaggedFields: undefined,
          },
        ]
      : [],
  } as FetchResponse;
}

/** The offset of the top-level tagged fields in the encoded frame: the frame without them ends with "0 tags". */
function tailStartOf(version: number, body: FetchResponse): number {
  const bare = encodeResponse(ApiKey.Fetch, version, 5, {
    ...body,
    nodeEndpoints: [],
    unknownTaggedFields: undefined,
  });
  return bare.length - 1;
}

test("the tail finder finds the top-level tagged fields, whatever the chunking", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(12, 13, 16, 17, 18),
      fc.array(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 5 }), { maxLength: 4 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }),
      (version, sizes, endpoints, cuts) => {
        const body = response(sizes, endpoints && version >= 16 && sizes.length > 0);
        const frame = encodeResponse(ApiKey.Fetch, version, 5, body);
        const expected = tailStartOf(version, body);
        const finder = new FetchResponseTailFinder(version);
        let arrived = 0;
        let safe = 0;
        for (let i = 0; arrived < frame.length; i++) {
          arrived = Math.min(frame.length, arrived + cuts[i % cuts.length]!);
          const next = finder.advance(frame, arrived);
          assert.ok(next >= safe, "the safe end never moves back");
          assert.ok(next <= arrived, "only arrived bytes are safe");
          assert.ok(next <= expected, "no tail byte is called safe");
          safe = next;
        }
        assert.equal(finder.tailStart, expected);
        assert.equal(safe, expected);
      },
    ),
    { numRuns: 300 },
  );
});

test("a tail finder that never reaches the tail leaves tailStart unset", () => {
  const frame = encodeResponse(ApiKey.Fetch, 17, 5, response([[100, 200]]));
  const truncated = Buffer.from(frame.subarray(0, 60));
  const finder = new FetchResponseTailFinder(17);
  finder.advance(truncated, truncated.length);
  assert.equal(finder.tailStart, -1);
});

test("records longer than the frame are refused", () => {
  const frame = Buffer.from(encodeResponse(ApiKey.Fetch, 17, 5, response([[100]])));
  const finder = new FetchResponseTailFinder(17);
  const recordsLength = frame.indexOf(Buffer.alloc(100, 1)) - 2;
  frame[recordsLength] = 0xff;
  frame[recordsLength + 1] = 0x7f;
  assert.throws(() => finder.advance(frame, frame.length), /run past/);
});

/**
 * Encodes a v17 response with leader endpoints, lets `change` edit its decoded tail, and decodes the response
 * whose tail was re-encoded at its size.
 */
function rewriteEndpoints(change: (tail: FetchResponseTail) => void): FetchResponse {
  const body = response([[10]], true);
  const frame = encodeResponse(ApiKey.Fetch, 17, 5, body);
  const start = tailStartOf(17, body);
  const tail = Buffer.from(frame.subarray(start));
  const decoded = decodeFetchResponseTail(17, tail);
  assert.deepEqual(decoded.nodeEndpoints, body.nodeEndpoints);
  change(decoded);
  const rewritten = encodeFetchResponseTail(17, decoded, tail.length);
  assert.equal(rewritten.length, tail.length);
  const whole = Buffer.concat([frame.subarray(0, start), rewritten]);
  return (decodeResponse(ApiKey.Fetch, 17, whole.subarray(4)) as { body: FetchResponse }).body;
}

test("a rewritten tail keeps its size: shorter endpoints are padded with a tag clients skip", () => {
  const out = rewriteEndpoints((tail) => {
    tail.nodeEndpoints[0].host = "proxy";
    tail.nodeEndpoints[0].port = 19092;
  });
  assert.deepEqual(out.nodeEndpoints, [
    { nodeId: 2, host: "proxy", port: 19092, rack: "a", unknownTaggedFields: undefined },
  ]);
  assert.equal(out.unknownTaggedFields?.[0]?.tag, TAIL_PADDING_TAG);
  assert.equal(out.responses[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
});

test("a rewritten tail that would grow drops its endpoints instead, at the same size", () => {
  const out = rewriteEndpoints((tail) => {
    tail.nodeEndpoints[0].host = "a-much-longer-advertised-proxy-host.example.com";
  });
  assert.deepEqual(out.nodeEndpoints, []);
  assert.equal(out.unknownTaggedFields?.length, 1);
});

test("an unchanged tail re-encodes to its own bytes", () => {
  const body = response([[10, 20]], true);
  const frame = encodeResponse(ApiKey.Fetch, 16, 5, body);
  const tail = Buffer.from(frame.subarray(tailStartOf(16, body)));
  assert.deepEqual(encodeFetchResponseTail(16, decodeFetchResponseTail(16, tail), tail.length), tail);
});
