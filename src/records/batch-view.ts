import { COMPRESSION_NAMES, type CompressionName } from "./compression/index.ts";
import { crc32c } from "./crc32c.ts";
import { RecordBatchError } from "./errors.ts";

/** Byte offsets of the magic v2 batch header (DefaultRecordBatch). */
export const BatchLayout = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

/** Bytes before batchLength's count starts (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12;
export const BATCH_HEADER_SIZE = BatchLayout.records;
export const CURRENT_MAGIC = 2;

export const Attribute = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

export const TimestampType = { createTime: 0, logAppendTime: 1 } as const;
export type TimestampTypeId = (typeof TimestampType)[keyof typeof TimestampType];

/**
 * A lazy view over one magic v2 batch: `buffer` holds exactly the batch's bytes (12 + batchLength),
 * and every field is read from it on demand.
 */
export class RecordBatchView {
  readonly kind = "batch";
  readonly buffer: Buffer;

  /** Trusts `buffer` to be one complete v2 batch; use `RecordBatchView.parse` for untrusted bytes. */
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  /** Checks the framing (size, magic, length) of untrusted bytes holding exactly one batch. */
  static parse(buffer: Buffer, path = "batch"): RecordBatchView {
    if (buffer.length < BATCH_HEADER_SIZE) throw new RecordBatchError(path, "shorter than a batch header");
    const magic = buffer.readInt8(BatchLayout.magic);
    if (magic !== CURRENT_MAGIC) throw new RecordBatchError(path, `magic ${magic} is not 2`);
    const length = buffer.readInt32BE(BatchLayout.batchLength);
    if (LOG_OVERHEAD + length !== buffer.length) {
      throw new RecordBatchError(path, `batchLength ${length} disagrees with ${buffer.length} bytes`);
    }
    return new RecordBatchView(buffer);
  }

  get baseOffset(): bigint {
    return this.buffer.readBigInt64BE(BatchLayout.baseOffset);
  }
  get batchLength(): number {
    return this.buffer.readInt32BE(BatchLayout.batchLength);
  }
  get partitionLeaderEpoch(): number {
    return this.buffer.readInt32BE(BatchLayout.partitionLeaderEpoch);
  }
  get magic(): number {
    return this.buffer.readInt8(BatchLayout.magic);
  }
  get crc(): number {
    return this.buffer.readUInt32BE(BatchLayout.crc);
  }
  get attributes(): number {
    return this.buffer.readUInt16BE(BatchLayout.attributes);
  }
  get compression(): number {
    return this.buffer[BatchLayout.attributes + 1] & Attribute.compressionMask;
  }
  get compressionName(): CompressionName {
    const name = COMPRESSION_NAMES[this.compression];
    if (name === undefined)
      throw new RecordBatchError(this.path, `unknown compression codec ${this.compression}`);
    return name;
  }
  get timestampType(): TimestampTypeId {
    return this.attributes & Attribute.logAppendTime ? TimestampType.logAppendTime : TimestampType.createTime;
  }
  get isTransactional(): boolean {
    return (this.attributes & Attribute.transactional) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & Attribute.control) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & Attribute.deleteHorizon) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.buffer.readInt32BE(BatchLayout.lastOffsetDelta);
  }
  get baseTimestamp(): bigint {
    return this.buffer.readBigInt64BE(BatchLayout.baseTimestamp);
  }
  get maxTimestamp(): bigint {
    return this.buffer.readBigInt64BE(BatchLayout.maxTimestamp);
  }
  get producerId(): bigint {
    return this.buffer.readBigInt64BE(BatchLayout.producerId);
  }
  get producerEpoch(): number {
    return this.buffer.readInt16BE(BatchLayout.producerEpoch);
  }
  get baseSequence(): number {
    return this.buffer.readInt32BE(BatchLayout.baseSequence);
  }
  get recordsCount(): number {
    return this.buffer.readInt32BE(BatchLayout.recordsCount);
  }
  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }
  get nextOffset(): bigint {
    return this.lastOffset + 1n;
  }
  get sizeInBytes(): number {
    return LOG_OVERHEAD + this.batchLength;
  }
  /** The records section as stored: compressed when the batch is. A slice, not a copy. */
  get recordsData(): Buffer {
    return this.buffer.subarray(BatchLayout.records);
  }
  /** Where errors about this batch point. */
  get path(): string {
    return `batch at offset ${this.baseOffset}`;
  }

  /** CRC-32C of attributes through the end, i.e. what the crc field should hold. */
  computeCrc(): number {
    return crc32c(this.buffer.subarray(BatchLayout.attributes));
  }
  isValidCrc(): boolean {
    return this.computeCrc() === this.crc;
  }
  ensureValidCrc(): this {
    const computed = this.computeCrc();
    if (computed !== this.crc) {
      throw new RecordBatchError(
        this.path,
        `crc mismatch (stored ${hex32(this.crc)}, computed ${hex32(computed)})`,
      );
    }
    return this;
  }
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/** A magic 0/1 message (or wrapper message) in a records blob: recognized and left untouched. */
export class LegacyMessageSetEntry {
  readonly kind = "legacy";
  readonly buffer: Buffer;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }
  get offset(): bigint {
    return this.buffer.readBigInt64BE(0);
  }
  get magic(): number {
    return this.buffer.readInt8(BatchLayout.magic);
  }
  get sizeInBytes(): number {
    return this.buffer.length;
  }
}
