import {
  Attribute,
  BATCH_HEADER_SIZE,
  BatchLayout,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  RecordBatchView,
  TimestampType,
  type TimestampTypeId,
} from "./batch-view.ts";
import { type CompressionName, compress, compressionId } from "./compression/index.ts";
import { crc32c } from "./crc32c.ts";
import { RecordBatchError } from "./errors.ts";
import {
  type DecodeOptions,
  decodeRecords,
  encodeRecords,
  type KafkaRecord,
  type RecordInput,
} from "./records.ts";

type Int64 = bigint | number;

export interface BatchHeaderInput {
  baseOffset?: Int64;
  partitionLeaderEpoch?: number;
  compression?: CompressionName | number;
  timestampType?: TimestampTypeId;
  isTransactional?: boolean;
  isControl?: boolean;
  hasDeleteHorizon?: boolean;
  producerId?: Int64;
  producerEpoch?: number;
  baseSequence?: number;
  /** Defaults to now for a batch with records, -1 for an empty one. */
  baseTimestamp?: Int64;
  /** Defaults to baseTimestamp + the largest timestampDelta (CreateTime) or baseTimestamp (LogAppendTime). */
  maxTimestamp?: Int64;
  /** Defaults to the largest offsetDelta; a larger value makes the batch span offsets past its last record. */
  lastOffsetDelta?: number;
}

export interface BatchInput extends BatchHeaderInput {
  records: readonly RecordInput[];
  /** Codec level; the codec's default (as the Java producer uses) when absent. */
  compressionLevel?: number;
}

export interface ProducerState {
  producerId: Int64;
  producerEpoch: number;
  baseSequence: number;
}

export interface EmptyBatchInput extends Omit<BatchHeaderInput, "compression" | "lastOffsetDelta"> {
  lastOffsetDelta: number;
}

function attributesOf(input: BatchHeaderInput, compression: number): number {
  let attributes = compression;
  if (input.timestampType === TimestampType.logAppendTime) attributes |= Attribute.logAppendTime;
  if (input.isTransactional) attributes |= Attribute.transactional;
  if (input.isControl) attributes |= Attribute.control;
  if (input.hasDeleteHorizon) attributes |= Attribute.deleteHorizon;
  return attributes;
}

function writeCrc(batch: Buffer): void {
  batch.writeUInt32BE(crc32c(batch.subarray(BatchLayout.attributes)), BatchLayout.crc);
}

/**
 * Builds one magic v2 batch with correct lengths and CRC. Records are compressed with the requested codec,
 * framed as the Java producer frames them. A batch without records is always written uncompressed.
 */
export function buildBatch(input: BatchInput): Buffer {
  const records = input.records;
  let compression = compressionId(input.compression ?? 0);
  if (records.length === 0) compression = 0;
  let lastOffsetDelta = -1;
  let maxTimestampDelta = 0;
  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    const offsetDelta = record.offsetDelta ?? index;
    if (offsetDelta > lastOffsetDelta) lastOffsetDelta = offsetDelta;
    const timestampDelta = record.timestampDelta ?? 0;
    if (index === 0 || timestampDelta > maxTimestampDelta) maxTimestampDelta = timestampDelta;
  }
  if (input.lastOffsetDelta !== undefined) {
    if (input.lastOffsetDelta < lastOffsetDelta) {
      throw new RecordBatchError(
        "lastOffsetDelta",
        `${input.lastOffsetDelta} is below the last record's offsetDelta ${lastOffsetDelta}`,
      );
    }
    lastOffsetDelta = input.lastOffsetDelta;
  }
  if (lastOffsetDelta < 0) lastOffsetDelta = 0;

  let batch: Buffer;
  if (compression === 0) {
    batch = encodeRecords(records, BATCH_HEADER_SIZE);
  } else {
    const compressed = compress(compression, encodeRecords(records), "records", {
      level: input.compressionLevel,
    });
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(batch, BATCH_HEADER_SIZE);
  }

  const baseTimestamp = BigInt(input.baseTimestamp ?? (records.length === 0 ? -1 : Date.now()));
  let maxTimestamp: bigint;
  if (input.maxTimestamp !== undefined) maxTimestamp = BigInt(input.maxTimestamp);
  else if (input.timestampType === TimestampType.logAppendTime || records.length === 0)
    maxTimestamp = baseTimestamp;
  else maxTimestamp = baseTimestamp + BigInt(maxTimestampDelta);

  batch.writeBigInt64BE(BigInt(input.baseOffset ?? 0), BatchLayout.baseOffset);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchLayout.batchLength);
  batch.writeInt32BE(input.partitionLeaderEpoch ?? -1, BatchLayout.partitionLeaderEpoch);
  batch.writeInt8(CURRENT_MAGIC, BatchLayout.magic);
  batch.writeUInt16BE(attributesOf(input, compression), BatchLayout.attributes);
  batch.writeInt32BE(lastOffsetDelta, BatchLayout.lastOffsetDelta);
  batch.writeBigInt64BE(baseTimestamp, BatchLayout.baseTimestamp);
  batch.writeBigInt64BE(maxTimestamp, BatchLayout.maxTimestamp);
  batch.writeBigInt64BE(BigInt(input.producerId ?? -1), BatchLayout.producerId);
  batch.writeInt16BE(input.producerEpoch ?? -1, BatchLayout.producerEpoch);
  batch.writeInt32BE(input.baseSequence ?? -1, BatchLayout.baseSequence);
  batch.writeInt32BE(records.length, BatchLayout.recordsCount);
  writeCrc(batch);
  return batch;
}

/**
 * A batch with no records spanning offsets baseOffset..baseOffset+lastOffsetDelta. Consumers skip past it
 * (to lastOffset + 1), which lets the proxy stand in for a run of batches it hides.
 */
export function buildEmptyBatch(input: EmptyBatchInput): Buffer {
  return buildBatch({ ...input, compression: 0, records: [] });
}

/** The header fields of `view` as builder input (the compression codec included). */
export function headerOf(view: RecordBatchView): Required<Omit<BatchHeaderInput, "maxTimestamp">> & {
  maxTimestamp: bigint;
} {
  return {
    baseOffset: view.baseOffset,
    partitionLeaderEpoch: view.partitionLeaderEpoch,
    compression: view.compression,
    timestampType: view.timestampType,
    isTransactional: view.isTransactional,
    isControl: view.isControl,
    hasDeleteHorizon: view.hasDeleteHorizon,
    producerId: view.producerId,
    producerEpoch: view.producerEpoch,
    baseSequence: view.baseSequence,
    baseTimestamp: view.baseTimestamp,
    maxTimestamp: view.maxTimestamp,
    lastOffsetDelta: view.lastOffsetDelta,
  };
}

export type RecordTransform = (record: KafkaRecord, index: number) => RecordInput | null | undefined;

export interface RebuildOptions extends DecodeOptions {
  /** Keep the original lastOffsetDelta even when the last records were dropped (default true). */
  keepOffsetSpan?: boolean;
  /** Recompress with another codec instead of the batch's own. */
  compression?: CompressionName | number;
  compressionLevel?: number;
}

/**
 * Re-encodes a batch with each record passed through `transform` (return null to drop a record).
 * Header fields are kept; offsets keep their deltas, so offsets stay what the broker assigned. The records
 * are recompressed with the batch's codec and the CRC is recomputed.
 */
export function rebuildBatch(
  view: RecordBatchView,
  transform: RecordTransform,
  options?: RebuildOptions,
): Buffer {
  const header = headerOf(view);
  const records: RecordInput[] = [];
  const decoded = decodeRecords(view, options);
  for (let index = 0; index < decoded.length; index++) {
    const next = transform(decoded[index], index);
    if (next) records.push(next);
  }
  const keepSpan = options?.keepOffsetSpan ?? true;
  const keepMaxTimestamp = view.timestampType === TimestampType.logAppendTime || records.length === 0;
  return buildBatch({
    ...header,
    compression: options?.compression ?? header.compression,
    compressionLevel: options?.compressionLevel,
    lastOffsetDelta: keepSpan ? Math.max(header.lastOffsetDelta, lastDeltaOf(records)) : undefined,
    maxTimestamp: keepMaxTimestamp ? header.maxTimestamp : undefined,
    records,
  });
}

function lastDeltaOf(records: readonly RecordInput[]): number {
  let last = -1;
  for (let index = 0; index < records.length; index++) {
    last = Math.max(last, records[index].offsetDelta ?? index);
  }
  return last;
}

function copyOf(view: RecordBatchView, inPlace: boolean | undefined): Buffer {
  return inPlace ? view.buffer : Buffer.from(view.buffer);
}

/**
 * Sets producerId, producerEpoch and baseSequence, recomputing the CRC without touching the records.
 * Copies the batch unless `inPlace`.
 */
export function withProducerState(
  view: RecordBatchView,
  state: ProducerState,
  options?: { inPlace?: boolean },
): RecordBatchView {
  const batch = copyOf(view, options?.inPlace);
  batch.writeBigInt64BE(BigInt(state.producerId), BatchLayout.producerId);
  batch.writeInt16BE(state.producerEpoch, BatchLayout.producerEpoch);
  batch.writeInt32BE(state.baseSequence, BatchLayout.baseSequence);
  writeCrc(batch);
  return new RecordBatchView(batch);
}

/** Sets baseOffset, which lies outside the CRC. Copies the batch unless `inPlace`. */
export function withBaseOffset(
  view: RecordBatchView,
  baseOffset: Int64,
  options?: { inPlace?: boolean },
): RecordBatchView {
  const batch = copyOf(view, options?.inPlace);
  batch.writeBigInt64BE(BigInt(baseOffset), BatchLayout.baseOffset);
  return new RecordBatchView(batch);
}

/** Sets partitionLeaderEpoch, which lies outside the CRC. Copies the batch unless `inPlace`. */
export function withPartitionLeaderEpoch(
  view: RecordBatchView,
  partitionLeaderEpoch: number,
  options?: { inPlace?: boolean },
): RecordBatchView {
  const batch = copyOf(view, options?.inPlace);
  batch.writeInt32BE(partitionLeaderEpoch, BatchLayout.partitionLeaderEpoch);
  return new RecordBatchView(batch);
}
