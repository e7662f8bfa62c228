import { buildBatch, type CompressionName, type RecordInput } from "../../src/records/index.ts";

/** Deterministic text-like payload (compresses roughly like JSON logs do). */
export function payload(size: number, seed: number): Buffer {
  const words = [
    "order",
    "user",
    "id",
    "amount",
    "status",
    "shipped",
    "eur",
    "created",
    "{",
    "}",
    ":",
    ",",
    '"',
  ];
  const out = Buffer.allocUnsafe(size);
  let state = seed * 2654435761 || 1;
  let position = 0;
  while (position < size) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const word = words[(state >>> 0) % words.length];
    position += out.write(word, position, "latin1");
    if (position < size) out[position++] = 48 + ((state >>> 8) % 10);
  }
  return out;
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
