import { BATCH_HEADER_SIZE, BatchLayout, LOG_OVERHEAD, type RecordBatchView } from "./batch-view.ts";
import { CompressionType, compress } from "./compression/index.ts";
import type { CompressOptions } from "./compression/options.ts";
import { crc32c } from "./crc32c.ts";
import { RecordBatchError } from "./errors.ts";
import { type DecodeOptions, decompressedRecordsData, type RecordHeaderInput } from "./records.ts";
import { type Cursor, readVarint, readVarlong, varintSize, writeVarint } from "./varint.ts";

export interface SpliceOptions extends DecodeOptions {
  /** Level used when the batch's codec is recompressed. */
  compressionLevel?: CompressOptions["level"];
}

/** Per record: body start and end, header count varint start and end, header count. */
const SLOTS = 5;

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

function skipBytesField(cursor: Cursor, field: string): void {
  const length = readVarint(cursor, field);
  if (length < -1) throw new RecordBatchError(field, `negative length ${length}`);
  if (length > cursor.end - cursor.pos) throw new RecordBatchError(field, "length past end");
  if (length > 0) cursor.pos += length;
}

/** Finds each record's header count without decoding keys, values or headers. */
function locateHeaderCounts(data: Buffer, count: number): Int32Array {
  const layout = new Int32Array(count * SLOTS);
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  for (let index = 0; index < count; index++) {
    try {
      const bodyLength = readVarint(cursor, "length");
      const bodyStart = cursor.pos;
      if (bodyLength < 1 || bodyLength > data.length - bodyStart) {
        throw new RecordBatchError("length", `record length ${bodyLength} runs past end`);
      }
      const bodyEnd = bodyStart + bodyLength;
      cursor.end = bodyEnd;
      cursor.pos++;
      readVarlong(cursor, "timestampDelta");
      readVarint(cursor, "offsetDelta");
      skipBytesField(cursor, "key");
      skipBytesField(cursor, "value");
      const countStart = cursor.pos;
      const headerCount = readVarint(cursor, "headers");
      if (headerCount < 0) throw new RecordBatchError("headers", `negative count ${headerCount}`);
      const slot = index * SLOTS;
      layout[slot] = bodyStart;
      layout[slot + 1] = bodyEnd;
      layout[slot + 2] = countStart;
      layout[slot + 3] = cursor.pos;
      layout[slot + 4] = headerCount;
      cursor.pos = bodyEnd;
      cursor.end = data.length;
    } catch (error) {
      throw error instanceof RecordBatchError ? error.within(`records[${index}].`) : error;
    }
  }
  if (cursor.pos !== data.length) {
    throw new RecordBatchError(
      "records",
      `${data.length - cursor.pos} bytes left after the ${count} records`,
    );
  }
  return layout;
}

/**
 * Appends one header to every record of a batch by splicing bytes: keys, values and existing headers are
 * copied, never decoded. Header fields stay as they were; the records are recompressed with the batch's
 * codec and the CRC is recomputed. This is the fast path of
 * `rebuildBatch(view, (r) => ({ ...r, headers: [...r.headers, header] }))`.
 */
export function appendHeaderToEveryRecord(
  view: RecordBatchView,
  header: RecordHeaderInput,
  options?: SpliceOptions,
): Buffer {
  const count = view.recordsCount;
  if (count <= 0) return Buffer.from(view.buffer);
  const data = decompressedRecordsData(view, options);
  let layout: Int32Array;
  try {
    layout = locateHeaderCounts(data, count);
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within(`${view.path}: `) : error;
  }
  const added = encodeHeader(header);
  const compression = view.compression;
  const headroom = compression === 0 ? BATCH_HEADER_SIZE : 0;

  let total = headroom;
  for (let slot = 0; slot < layout.length; slot += SLOTS) {
    const headerCount = layout[slot + 4];
    const bodyLength =
      layout[slot + 1] -
      layout[slot] -
      (layout[slot + 3] - layout[slot + 2]) +
      varintSize(headerCount + 1) +
      added.length;
    total += varintSize(bodyLength) + bodyLength;
  }
  const records = rebuiltRecordsBuffer(compression, total);
  let pos = headroom;
  for (let slot = 0; slot < layout.length; slot += SLOTS) {
    const bodyStart = layout[slot];
    const bodyEnd = layout[slot + 1];
    const countStart = layout[slot + 2];
    const countEnd = layout[slot + 3];
    const headerCount = layout[slot + 4];
    const bodyLength =
      bodyEnd - bodyStart - (countEnd - countStart) + varintSize(headerCount + 1) + added.length;
    pos = writeVarint(records, pos, bodyLength);
    pos += data.copy(records, pos, bodyStart, countStart);
    pos = writeVarint(records, pos, headerCount + 1);
    pos += data.copy(records, pos, countEnd, bodyEnd);
    pos += added.copy(records, pos);
  }

  return sealRebuiltBatch(view, records, options?.compressionLevel);
}

/** lz4 that saves less than this share of the bytes is not worth its CPU: such records are stored again. */
const LZ4_WORTHWHILE_SAVING = 0.05;

function lz4BarelyShrank(view: RecordBatchView, uncompressedBytes: number): boolean {
  const compressedBytes = view.buffer.length - BATCH_HEADER_SIZE;
  return compressedBytes >= uncompressedBytes * (1 - LZ4_WORTHWHILE_SAVING);
}

/**
 * The batch that replaces `view` with new records: the same header, `records` compressed with the batch's
 * codec, length and CRC recomputed. Uncompressed `records` must start with BATCH_HEADER_SIZE bytes of headroom,
 * which become the header. lz4 records that the producer's compression barely shrank (random or already
 * compressed payloads) are stored in the frame's uncompressed blocks instead of being compressed again.
 */
const SCRATCH_LIMIT_BYTES = 16 * 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(0);

/**
 * The buffer a batch's records are rebuilt into before `sealRebuiltBatch`. Uncompressed records become the batch
 * itself, so they get a buffer of their own; records that are compressed next are only read once, so they reuse
 * one scratch buffer instead of leaving a batch-sized buffer to the garbage collector each time.
 */
export function rebuiltRecordsBuffer(compression: number, size: number): Buffer {
  if (compression === CompressionType.none || size > SCRATCH_LIMIT_BYTES) return Buffer.allocUnsafe(size);
  if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, 2 * scratch.length, 64 * 1024));
  return scratch.subarray(0, size);
}

export function sealRebuiltBatch(view: RecordBatchView, records: Buffer, level?: number): Buffer {
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
