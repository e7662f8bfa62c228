import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeRequestChunks,
  encodeResponse,
  encodeResponseChunks,
} from "../../src/protocol/frame.ts";
import type { FetchResponse, PartitionData } from "../../src/protocol/generated/messages/fetch-response.ts";
import type { ProduceRequest } from "../../src/protocol/generated/messages/produce-request.ts";
import { iterateBatches } from "../../src/records/index.ts";
import { sampleBatch } from "./batches.ts";
import { measure, megabytesPerSecond, printTable } from "./timing.ts";

const PRODUCE = 0;
const PRODUCE_VERSION = 11;
const FETCH = 1;
const FETCH_VERSION = 12;

/** A Produce request carrying `totalBytes` of records: one batch per partition, 16 partitions. */
function produceFrame(totalBytes: number, recordSize: number): Buffer {
  const partitions = 16;
  const request: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: "orders",
        topicId: "",
        partitionData: Array.from({ length: partitions }, (_, index) => ({
          index,
          records: sampleBatch("none", totalBytes / partitions, recordSize),
        })),
      },
    ],
  };
  return encodeRequest(
    { apiKey: PRODUCE, apiVersion: PRODUCE_VERSION, correlationId: 7, clientId: "bench" },
    request,
  );
}

/** A Fetch response carrying `totalBytes` of records: 4 partitions, each a run of 16 KiB batches. */
function fetchFrame(totalBytes: number, recordSize: number): Buffer {
  const partitions = 4;
  const batchBytes = 16 * 1024;
  const partition = (index: number): PartitionData => {
    const batches = Array.from({ length: totalBytes / partitions / batchBytes }, () =>
      sampleBatch("none", batchBytes, recordSize),
    );
    return {
      partitionIndex: index,
      errorCode: 0,
      highWatermark: 1_000_000n,
      lastStableOffset: 1_000_000n,
      logStartOffset: 0n,
      divergingEpoch: { epoch: -1, endOffset: -1n },
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
      snapshotId: { endOffset: -1n, epoch: -1 },
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: Buffer.concat(batches),
    };
  };
  const response: FetchResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: "orders",
        topicId: "",
        partitions: Array.from({ length: partitions }, (_, i) => partition(i)),
      },
    ],
    nodeEndpoints: [],
  };
  return encodeResponse(FETCH, FETCH_VERSION, 9, response);
}

function countBatches(records: Buffer | null): number {
  let count = 0;
  if (records)
    for (const entry of iterateBatches(records))
      if (entry.kind === "batch" && entry.recordsCount >= 0) count++;
  return count;
}

/** Produce request / Fetch response decode + re-encode with record bytes kept as slices. */
export async function benchProtocol(totalBytes: number, recordSize: number, budgetMs: number): Promise<void> {
  const produce = produceFrame(totalBytes, recordSize);
  const produceBody = produce.subarray(4);
  const fetch = fetchFrame(totalBytes, recordSize);
  const fetchBody = fetch.subarray(4);
  const rows: string[][] = [];

  const decodeProduce = () => decodeRequest(produceBody);
  const reencodeProduce = (chunks: boolean) => {
    const decoded = decodeProduce();
    const header = { apiKey: PRODUCE, apiVersion: PRODUCE_VERSION, correlationId: 8, clientId: "bench" };
    return chunks ? encodeRequestChunks(header, decoded.body) : encodeRequest(header, decoded.body);
  };
  const decodeFetch = () => decodeResponse(FETCH, FETCH_VERSION, fetchBody);
  const reencodeFetch = (chunks: boolean) => {
    const decoded = decodeFetch();
    return chunks
      ? encodeResponseChunks(FETCH, FETCH_VERSION, 10, decoded.body)
      : encodeResponse(FETCH, FETCH_VERSION, 10, decoded.body);
  };
  const walkFetchBatches = () => {
    const decoded = decodeFetch().body as FetchResponse;
    let batches = 0;
    for (const topic of decoded.responses)
      for (const p of topic.partitions) batches += countBatches(p.records);
    return batches;
  };

  const cases: [string, number, () => unknown][] = [
    ["Produce v11: decode", produce.length, decodeProduce],
    ["Produce v11: decode + encode (chunks, no copy)", produce.length, () => reencodeProduce(true)],
    ["Produce v11: decode + encode (one buffer)", produce.length, () => reencodeProduce(false)],
    ["Fetch v12: decode", fetch.length, decodeFetch],
    ["Fetch v12: decode + walk batch headers", fetch.length, walkFetchBatches],
    ["Fetch v12: decode + encode (chunks, no copy)", fetch.length, () => reencodeFetch(true)],
    ["Fetch v12: decode + encode (one buffer)", fetch.length, () => reencodeFetch(false)],
  ];
  for (const [label, bytes, work] of cases) {
    const ms = measure(() => void work(), budgetMs);
    rows.push([label, (bytes / 1024).toFixed(0), (ms * 1000).toFixed(0), megabytesPerSecond(bytes, ms)]);
  }
  printTable(
    `Protocol frames with ${totalBytes / recordSize} x ${recordSize} B records (batch bytes kept as slices)`,
    ["case", "frame KiB", "µs/frame", "MB/s"],
    rows,
  );
}
