import { buildBatch, type CompressionName, type RecordInput } from "../../src/records/index.ts";

const STATUSES = ["created", "paid", "shipped", "delivered", "returned"];
const CITIES = ["Berlin", "Lyon", "Porto", "Oslo", "Turin", "Ghent", "Split", "Cork"];

/** Deterministic JSON event payload of `size` bytes (compresses roughly like real event streams). */
export function payload(size: number, seed: number): Buffer {
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  let text = "";
  while (text.length < size) {
    text += `{"id":"${next().toString(16).padStart(8, "0")}${next().toString(16).padStart(8, "0")}",`;
    text += `"user":${next() % 100000},"amount":${(next() % 100000) / 100},"currency":"EUR",`;
    text += `"status":"${STATUSES[next() % STATUSES.length]}","city":"${CITIES[next() % CITIES.length]}",`;
    text += `"ts":${1_700_000_000_000 + (next() % 86_400_000)}}\n`;
  }
  return Buffer.from(text.slice(0, size), "latin1");
}

export function sampleRecords(totalBytes: number, recordSize: number): RecordInput[] {
  const count = Math.floor(totalBytes / recordSize);
  return Array.from({ length: count }, (_, index) => ({
    timestampDelta: index,
    key: Buffer.from(`key-${index}`),
    value: payload(recordSize, index + 1),
    headers: [{ key: "source", value: Buffer.from("bench") }],
  }));
}

/** One batch per codec holding `totalBytes` of `recordSize` records. */
export function sampleBatch(codec: CompressionName, totalBytes: number, recordSize: number): Buffer {
  return buildBatch({
    compression: codec,
    baseTimestamp: 1_700_000_000_000n,
    producerId: 1000n,
    producerEpoch: 0,
    baseSequence: 0,
    records: sampleRecords(totalBytes, recordSize),
  });
}
