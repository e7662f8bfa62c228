import type { RecordBatchView } from "./batch-view.ts";
import { decompress } from "./compression/index.ts";
import type { DecompressOptions } from "./compression/options.ts";
import { RecordBatchError } from "./errors.ts";
import {
  type Cursor,
  MAX_VARLONG_MAGNITUDE,
  readVarint,
  readVarlong,
  varintSize,
  writeVarint,
} from "./varint.ts";

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One decoded record. key, value and header values are slices of the (decompressed) records data. */
export interface KafkaRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export type Bytes = Buffer | string | null;

export interface RecordHeaderInput {
  key: string;
  value: Bytes;
}

/** What the writer accepts; a decoded `KafkaRecord` is one. offsetDelta defaults to the record's index. */
export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  attributes?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: readonly RecordHeaderInput[];
}

export type DecodeOptions = DecompressOptions;

/** The records section of a batch, decompressed when needed (uncompressed batches give a slice). */
export function decompressedRecordsData(view: RecordBatchView, options?: DecodeOptions): Buffer {
  const compression = view.compression;
  if (compression === 0) return view.recordsData;
  try {
    return decompress(compression, view.recordsData, "records", options);
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within(`${view.path}: `) : error;
  }
}

/** Lazily decodes the records of a batch, decompressing first when it is compressed. */
export function* iterateRecords(view: RecordBatchView, options?: DecodeOptions): Generator<KafkaRecord> {
  const count = view.recordsCount;
  if (count < 0) throw new RecordBatchError(view.path, `recordsCount ${count} is negative`);
  if (count === 0) return;
  const data = decompressedRecordsData(view, options);
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  for (let index = 0; index < count; index++) {
    let record: KafkaRecord;
    try {
      record = readRecord(cursor);
    } catch (error) {
      throw error instanceof RecordBatchError ? error.within(`${view.path}: records[${index}].`) : error;
    }
    yield record;
  }
  if (cursor.pos !== cursor.end) {
    throw new RecordBatchError(
      view.path,
      `${cursor.end - cursor.pos} bytes left after the ${count} records the header declares`,
    );
  }
}

/** All records of a batch as an array. */
export function decodeRecords(view: RecordBatchView, options?: DecodeOptions): KafkaRecord[] {
  return Array.from(iterateRecords(view, options));
}

function readBytes(cursor: Cursor, field: string): Buffer | null {
  const length = readVarint(cursor, field);
  if (length < 0) {
    if (length === -1) return null;
    throw new RecordBatchError(field, `negative length ${length}`);
  }
  const start = cursor.pos;
  if (length > cursor.end - start) throw new RecordBatchError(field, "length past end");
  cursor.pos = start + length;
  return cursor.buf.subarray(start, start + length);
}

function readRecord(cursor: Cursor): KafkaRecord {
  const bodyLength = readVarint(cursor, "length");
  const bodyStart = cursor.pos;
  if (bodyLength < 0 || bodyLength > cursor.end - bodyStart) {
    throw new RecordBatchError("length", `record length ${bodyLength} runs past end`);
  }
  const outerEnd = cursor.end;
  cursor.end = bodyStart + bodyLength;
  if (bodyLength < 1) throw new RecordBatchError("attributes", "past end");
  const attributes = cursor.buf.readInt8(cursor.pos++);
  const timestampDelta = readVarlong(cursor, "timestampDelta");
  const offsetDelta = readVarint(cursor, "offsetDelta");
  const key = readBytes(cursor, "key");
  const value = readBytes(cursor, "value");
  const headerCount = readVarint(cursor, "headers");
  if (headerCount < 0) throw new RecordBatchError("headers", `negative count ${headerCount}`);
  if (headerCount > (cursor.end - cursor.pos) / 2) {
    throw new RecordBatchError("headers", `count ${headerCount} cannot fit in the record`);
  }
  const headers: RecordHeader[] = new Array(headerCount);
  for (let index = 0; index < headerCount; index++) {
    try {
      headers[index] = readHeader(cursor);
    } catch (error) {
      throw error instanceof RecordBatchError ? error.within(`headers[${index}].`) : error;
    }
  }
  if (cursor.pos !== cursor.end) {
    throw new RecordBatchError(
      "length",
      `record declares ${bodyLength} bytes but holds ${cursor.pos - bodyStart}`,
    );
  }
  cursor.end = outerEnd;
  return { attributes, timestampDelta, offsetDelta, key, value, headers };
}

function readHeader(cursor: Cursor): RecordHeader {
  const keyLength = readVarint(cursor, "key");
  if (keyLength < 0) throw new RecordBatchError("key", `negative length ${keyLength}`);
  const start = cursor.pos;
  if (keyLength > cursor.end - start) throw new RecordBatchError("key", "length past end");
  cursor.pos = start + keyLength;
  const key = cursor.buf.toString("utf8", start, start + keyLength);
  const value = readBytes(cursor, "value");
  return { key, value };
}

function bytesLength(bytes: Bytes | undefined): number {
  if (bytes === null || bytes === undefined) return -1;
  return typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
}

function bytesFieldSize(length: number): number {
  return length < 0 ? 1 : varintSize(length) + length;
}

function writeBytes(buf: Buffer, pos: number, bytes: Bytes | undefined, length: number): number {
  pos = writeVarint(buf, pos, length);
  if (length <= 0 || bytes === null || bytes === undefined) return pos;
  if (typeof bytes === "string") return pos + buf.write(bytes, pos, "utf8");
  return pos + bytes.copy(buf, pos);
}

/**
 * Encodes records back to back (the uncompressed records section of a batch).
 * Sizes are measured first so the output is allocated once; `headroom` bytes are left free in front.
 */
export function encodeRecords(records: readonly RecordInput[], headroom = 0): Buffer {
  const count = records.length;
  const bodySizes = new Array<number>(count);
  let total = headroom;
  for (let index = 0; index < count; index++) {
    const record = records[index];
    let size =
      1 +
      varintSize(record.timestampDelta ?? 0) +
      varintSize(record.offsetDelta ?? index) +
      bytesFieldSize(bytesLength(record.key)) +
      bytesFieldSize(bytesLength(record.value));
    const headers = record.headers ?? [];
    size += varintSize(headers.length);
    for (const header of headers) {
      const keyLength = Buffer.byteLength(header.key);
      size += varintSize(keyLength) + keyLength + bytesFieldSize(bytesLength(header.value));
    }
    bodySizes[index] = size;
    total += varintSize(size) + size;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = headroom;
  for (let index = 0; index < count; index++) {
    const record = records[index];
    const timestampDelta = record.timestampDelta ?? 0;
    if (!Number.isInteger(timestampDelta) || Math.abs(timestampDelta) > MAX_VARLONG_MAGNITUDE) {
      throw new RecordBatchError(
        `records[${index}].timestampDelta`,
        `${timestampDelta} is not an integer within ±2^52`,
      );
    }
    pos = writeVarint(out, pos, bodySizes[index]);
    out.writeInt8(record.attributes ?? 0, pos++);
    pos = writeVarint(out, pos, timestampDelta);
    pos = writeVarint(out, pos, record.offsetDelta ?? index);
    pos = writeBytes(out, pos, record.key, bytesLength(record.key));
    pos = writeBytes(out, pos, record.value, bytesLength(record.value));
    const headers = record.headers ?? [];
    pos = writeVarint(out, pos, headers.length);
    for (const header of headers) {
      const keyLength = Buffer.byteLength(header.key);
      pos = writeVarint(out, pos, keyLength);
      pos += out.write(header.key, pos, "utf8");
      pos = writeBytes(out, pos, header.value, bytesLength(header.value));
    }
  }
  return out;
}
