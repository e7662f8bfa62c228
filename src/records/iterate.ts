import {
  BATCH_HEADER_SIZE,
  BatchLayout,
  CURRENT_MAGIC,
  LegacyMessageSetEntry,
  LOG_OVERHEAD,
  RecordBatchView,
} from "./batch-view.ts";
import { RecordBatchError } from "./errors.ts";

/** Smallest legacy message bodies: crc, magic, attributes, (timestamp for v1), key and value lengths. */
const LEGACY_MIN_SIZE = [14, 22] as const;
/** Bytes needed to see baseOffset, batchLength, partitionLeaderEpoch and magic. */
const HEADER_UP_TO_MAGIC = BatchLayout.magic + 1;

/** An incomplete last batch, as brokers return when a fetch hits its size limit. Never parsed. */
export class PartialBatch {
  readonly kind = "partial";
  readonly buffer: Buffer;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }
}

export type BatchEntry = RecordBatchView | LegacyMessageSetEntry | PartialBatch;

/**
 * Walks a records blob (Produce request or Fetch response) batch by batch without copying: each v2 batch
 * becomes a view over its slice, magic 0/1 entries are passed through as legacy, and a truncated tail is
 * yielded last as a PartialBatch. Corrupt framing raises a RecordBatchError naming the byte position.
 */
export function* iterateBatches(records: Buffer): Generator<BatchEntry> {
  let position = 0;
  const end = records.length;
  while (position < end) {
    const remaining = end - position;
    if (remaining < HEADER_UP_TO_MAGIC) {
      yield new PartialBatch(records.subarray(position));
      return;
    }
    const length = records.readInt32BE(position + BatchLayout.batchLength);
    const magic = records.readInt8(position + BatchLayout.magic);
    const minimum = magic === CURRENT_MAGIC ? BATCH_HEADER_SIZE - LOG_OVERHEAD : LEGACY_MIN_SIZE[magic];
    if (minimum === undefined) {
      throw new RecordBatchError(`batch at byte ${position}`, `unknown magic ${magic}`);
    }
    if (length < minimum) {
      throw new RecordBatchError(
        `batch at byte ${position}`,
        `length ${length} is below the minimum ${minimum}`,
      );
    }
    const size = LOG_OVERHEAD + length;
    if (size > remaining) {
      yield new PartialBatch(records.subarray(position));
      return;
    }
    const slice = records.subarray(position, position + size);
    yield magic === CURRENT_MAGIC ? new RecordBatchView(slice) : new LegacyMessageSetEntry(slice);
    position += size;
  }
}

export interface SplitBatches {
  /** Every complete entry in order, v2 and legacy. */
  entries: (RecordBatchView | LegacyMessageSetEntry)[];
  /** The v2 batches only. */
  batches: RecordBatchView[];
  hasLegacy: boolean;
  /** The truncated tail, or null when the blob ends on a batch boundary. */
  trailingPartial: Buffer | null;
}

/** `iterateBatches` collected into arrays. */
export function splitBatches(records: Buffer): SplitBatches {
  const result: SplitBatches = { entries: [], batches: [], hasLegacy: false, trailingPartial: null };
  for (const entry of iterateBatches(records)) {
    if (entry.kind === "partial") result.trailingPartial = entry.buffer;
    else {
      result.entries.push(entry);
      if (entry.kind === "batch") result.batches.push(entry);
      else result.hasLegacy = true;
    }
  }
  return result;
}
