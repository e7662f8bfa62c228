import { BATCH_HEADER_SIZE, BatchLayout, LOG_OVERHEAD, type RecordBatchView } from "./batch-view.ts";
import { rebuildBatch } from "./builder.ts";
import { CompressionType, compress } from "./compression/index.ts";
import type { CompressOptions } from "./compression/options.ts";
import { crc32c } from "./crc32c.ts";
import { RecordBatchError } from "./errors.ts";
import {
  NO_HEADER,
  RECORD_SLOTS,
  REPEATED_HEADER,
  RecordSlot,
  type RecordsLayout,
  scanRecords,
} from "./headers.ts";
import { type DecodeOptions, decompressedRecordsData, type RecordHeaderInput } from "./records.ts";
import { varintSize, writeVarint } from "./varint.ts";

export interface SpliceOptions extends DecodeOptions {
  /** Level used when the batch's codec is recompressed. */
  compressionLevel?: CompressOptions["level"];
}

function encodeHeader(header: RecordHeaderInput): Buffer {
  const keyLength = Buffer.byteLength(header.key);
  const value = typeof header.value === "string" ? Buffer.from(header.value) : header.value;
  const valueLength = value === null ? -1 : value.length;
  const out = Buffer.allocUnsafe(
    varintSize(keyLength) + keyLength + varintSize(valueLength) + Math.max(0, valueLength),
  );
  let pos = writeVarint(out, 0, keyLength);
  pos += out.write(header.key, pos, "utf8");
  pos = writeVarint(out, pos, valueLength);
  if (value) value.copy(out, pos);
  return out;
}

function scanBatchRecords(view: RecordBatchView, data: Buffer, key?: Buffer): RecordsLayout {
  try {
    return scanRecords(data, view.recordsCount, key);
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within(`${view.path}: `) : error;
  }
}

/**
 * Gives every record of a batch the header `header.key` with `header.value` and no other copy of it: the
 * header is appended by splicing bytes (keys, values and other headers are copied, never decoded), and records
 * that already carry the key lose their copies first. Header fields stay as they were; the records are
 * recompressed with the batch's codec and the CRC is recomputed. This is the fast path of
 * `rebuildBatch(view, (r) => ({ ...r, headers: [...r.headers without key, header] }))`.
 */
export function setHeaderOnEveryRecord(
  view: RecordBatchView,
  header: RecordHeaderInput,
  options?: SpliceOptions,
): Buffer {
  if (view.recordsCount <= 0) return Buffer.from(view.buffer);
  const data = decompressedRecordsData(view, options);
  const added = encodeHeader(header);
  const keyStart = varintSize(Buffer.byteLength(header.key));
  const key = added.subarray(keyStart, keyStart + Buffer.byteLength(header.key));
  const { layout, found } = scanBatchRecords(view, data, key);
  if (found > 0) return replaceByRebuilding(view, header, options);
  const compression = view.compression;
  const headroom = compression === CompressionType.none ? BATCH_HEADER_SIZE : 0;

  let total = headroom;
  for (let slot = 0; slot < layout.length; slot += RECORD_SLOTS) {
    const bodyLength = appendedBodyLength(layout, slot, added.length);
    total += varintSize(bodyLength) + bodyLength;
  }
  const records = rebuiltRecordsBuffer(compression, total);
  let pos = headroom;
  for (let slot = 0; slot < layout.length; slot += RECORD_SLOTS) {
    pos = writeVarint(records, pos, appendedBodyLength(layout, slot, added.length));
    pos += data.copy(
      records,
      pos,
      layout[slot + RecordSlot.bodyStart],
      layout[slot + RecordSlot.headerCountStart],
    );
    pos = writeVarint(records, pos, layout[slot + RecordSlot.headerCount] + 1);
    pos += data.copy(
      records,
      pos,
      layout[slot + RecordSlot.headerCountEnd],
      layout[slot + RecordSlot.bodyEnd],
    );
    pos += added.copy(records, pos);
  }

  return sealRebuiltBatch(view, records, options?.compressionLevel);
}

/** Slow path for records that already carry the header: decode, replace, re-encode. */
function replaceByRebuilding(
  view: RecordBatchView,
  header: RecordHeaderInput,
  options?: SpliceOptions,
): Buffer {
  return rebuildBatch(
    view,
    (record) => ({
      ...record,
      headers: [...record.headers.filter((existing) => existing.key !== header.key), header],
    }),
    options,
  );
}

function appendedBodyLength(layout: Int32Array, slot: number, addedLength: number): number {
  return (
    layout[slot + RecordSlot.bodyEnd] -
    layout[slot + RecordSlot.bodyStart] -
    (layout[slot + RecordSlot.headerCountEnd] - layout[slot + RecordSlot.headerCountStart]) +
    varintSize(layout[slot + RecordSlot.headerCount] + 1) +
    addedLength
  );
}

/**
 * Removes the header named `key` from every record of a batch by splicing bytes (the reverse of
 * `setHeaderOnEveryRecord`): keys, values and other headers are copied, never decoded. Offsets, timestamps
 * and the batch header stay as they were; the records are recompressed with the batch's codec and the CRC is
 * recomputed. Returns the batch's own bytes when no record carries the header. `decompressed` may pass the
 * records already decompressed (e.g. while a header of the first record was read).
 */
export function stripHeaderFromEveryRecord(
  view: RecordBatchView,
  key: Buffer,
  decompressed?: Buffer,
  options?: DecodeOptions,
): Buffer {
  if (view.recordsCount <= 0) return view.buffer;
  const data = decompressed ?? decompressedRecordsData(view, options);
  const { layout, found } = scanBatchRecords(view, data, key);
  if (found === 0) return view.buffer;
  for (let slot = 0; slot < layout.length; slot += RECORD_SLOTS) {
    if (layout[slot + RecordSlot.headerStart] === REPEATED_HEADER)
      return stripByRebuilding(view, key, options);
  }

  const compression = view.compression;
  const headroom = compression === CompressionType.none ? BATCH_HEADER_SIZE : 0;
  let total = headroom;
  for (let slot = 0; slot < layout.length; slot += RECORD_SLOTS) {
    const bodyLength = strippedBodyLength(layout, slot);
    total += varintSize(bodyLength) + bodyLength;
  }
  const records = rebuiltRecordsBuffer(compression, total);
  let pos = headroom;
  for (let slot = 0; slot < layout.length; slot += RECORD_SLOTS) {
    const bodyStart = layout[slot + RecordSlot.bodyStart];
    const bodyEnd = layout[slot + RecordSlot.bodyEnd];
    const headerStart = layout[slot + RecordSlot.headerStart];
    pos = writeVarint(records, pos, strippedBodyLength(layout, slot));
    if (headerStart === NO_HEADER) {
      pos += data.copy(records, pos, bodyStart, bodyEnd);
      continue;
    }
    pos += data.copy(records, pos, bodyStart, layout[slot + RecordSlot.headerCountStart]);
    pos = writeVarint(records, pos, layout[slot + RecordSlot.headerCount] - 1);
    pos += data.copy(records, pos, layout[slot + RecordSlot.headerCountEnd], headerStart);
    pos += data.copy(records, pos, layout[slot + RecordSlot.headerEnd], bodyEnd);
  }

  return sealRebuiltBatch(view, records);
}

function strippedBodyLength(layout: Int32Array, slot: number): number {
  const bodyLength = layout[slot + RecordSlot.bodyEnd] - layout[slot + RecordSlot.bodyStart];
  const headerStart = layout[slot + RecordSlot.headerStart];
  if (headerStart === NO_HEADER) return bodyLength;
  return (
    bodyLength -
    (layout[slot + RecordSlot.headerCountEnd] - layout[slot + RecordSlot.headerCountStart]) +
    varintSize(layout[slot + RecordSlot.headerCount] - 1) -
    (layout[slot + RecordSlot.headerEnd] - headerStart)
  );
}

/** Slow path for records that repeat the header: decode, filter, re-encode. */
function stripByRebuilding(view: RecordBatchView, key: Buffer, options?: DecodeOptions): Buffer {
  const name = key.toString("utf8");
  return rebuildBatch(
    view,
    (record) => ({ ...record, headers: record.headers.filter((header) => header.key !== name) }),
    options,
  );
}

/** lz4 that saves less than this share of the bytes is not worth its CPU: such records are stored again. */
const LZ4_WORTHWHILE_SAVING = 0.05;

function lz4BarelyShrank(view: RecordBatchView, uncompressedBytes: number): boolean {
  const compressedBytes = view.buffer.length - BATCH_HEADER_SIZE;
  return compressedBytes >= uncompressedBytes * (1 - LZ4_WORTHWHILE_SAVING);
}

const SCRATCH_LIMIT_BYTES = 16 * 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(0);

/**
 * The buffer a batch's records are rebuilt into before `sealRebuiltBatch`. Uncompressed records become the batch
 * itself, so they get a buffer of their own; records that are compressed next are only read once, so they reuse
 * one scratch buffer instead of leaving a batch-sized buffer to the garbage collector each time.
 */
function rebuiltRecordsBuffer(compression: number, size: number): Buffer {
  if (compression === CompressionType.none || size > SCRATCH_LIMIT_BYTES) return Buffer.allocUnsafe(size);
  if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, 2 * scratch.length, 64 * 1024));
  return scratch.subarray(0, size);
}

/**
 * The batch that replaces `view` with new records: the same header, `records` compressed with the batch's
 * codec, length and CRC recomputed. Uncompressed `records` must start with BATCH_HEADER_SIZE bytes of headroom,
 * which become the header. lz4 records that the producer's compression barely shrank (random or already
 * compressed payloads) are stored in the frame's uncompressed blocks instead of being compressed again.
 */
function sealRebuiltBatch(view: RecordBatchView, records: Buffer, level?: number): Buffer {
  const compression = view.compression;
  const path = `${view.path}: records`;
  let batch: Buffer;
  if (compression === CompressionType.none) {
    batch = records;
  } else if (compression === CompressionType.lz4) {
    batch = compress(compression, records, path, {
      headroom: BATCH_HEADER_SIZE,
      incompressible: lz4BarelyShrank(view, records.length),
    });
  } else {
    const compressed = compress(compression, records, path, { level });
    batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(batch, BATCH_HEADER_SIZE);
  }
  view.buffer.copy(batch, 0, 0, BATCH_HEADER_SIZE);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchLayout.batchLength);
  batch.writeUInt32BE(crc32c(batch.subarray(BatchLayout.attributes)), BatchLayout.crc);
  return batch;
}
