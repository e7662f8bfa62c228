import {
  BATCH_HEADER_SIZE,
  type DecodeOptions,
  decompressedRecordsData,
  RecordBatchError,
  type RecordBatchView,
  rebuildBatch,
  rebuiltRecordsBuffer,
  sealRebuiltBatch,
} from "../../records/index.ts";
import { type Cursor, readVarint, readVarlong, varintSize, writeVarint } from "../../records/varint.ts";

/** Per record: body start and end, header count varint start and end, header count, marker start and end. */
const SLOTS = 7;
const MORE_THAN_ONE = -2;

function skipBytesField(cursor: Cursor, field: string): void {
  const length = readVarint(cursor, field);
  if (length < -1) throw new RecordBatchError(field, `negative length ${length}`);
  if (length > cursor.end - cursor.pos) throw new RecordBatchError(field, "length past end");
  if (length > 0) cursor.pos += length;
}

/** Whether `data` holds `key` at `start`: for a marker key's few bytes, a loop beats a native compare call. */
function holdsAt(data: Buffer, start: number, key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (data[start + i] !== key[i]) return false;
  return true;
}

/**
 * Finds, in each record, the header count and the one header named `key` (marker start -1 when absent,
 * MORE_THAN_ONE when a record repeats it). Keys and values are skipped, never decoded.
 */
function locateMarkers(data: Buffer, count: number, key: Buffer): { layout: Int32Array; found: number } {
  const layout = new Int32Array(count * SLOTS);
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  let found = 0;
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
      layout[slot + 5] = -1;
      for (let header = 0; header < headerCount; header++) {
        const headerStart = cursor.pos;
        const keyLength = readVarint(cursor, `headers[${header}].key`);
        if (keyLength < 0 || keyLength > bodyEnd - cursor.pos) {
          throw new RecordBatchError(`headers[${header}].key`, "length past end");
        }
        const keyStart = cursor.pos;
        cursor.pos += keyLength;
        skipBytesField(cursor, `headers[${header}].value`);
        if (keyLength === key.length && holdsAt(data, keyStart, key)) {
          if (layout[slot + 5] === -1) {
            layout[slot + 5] = headerStart;
            layout[slot + 6] = cursor.pos;
            found++;
          } else layout[slot + 5] = MORE_THAN_ONE;
        }
      }
      if (cursor.pos !== bodyEnd)
        throw new RecordBatchError("length", "record body has bytes after its headers");
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
  return { layout, found };
}

/**
 * Removes the header named `key` from every record of a batch by splicing bytes (the reverse of
 * `appendHeaderToEveryRecord`): keys, values and other headers are copied, never decoded. Offsets, timestamps
 * and the batch header stay as they were; the records are recompressed with the batch's codec and the CRC is
 * recomputed. Returns the batch's own bytes when no record carries the header. `decompressed` may pass the
 * records already decompressed (e.g. while classifying).
 */
export function stripHeaderFromEveryRecord(
  view: RecordBatchView,
  key: Buffer,
  decompressed?: Buffer,
  options?: DecodeOptions,
): Buffer {
  const count = view.recordsCount;
  if (count <= 0) return view.buffer;
  const data = decompressed ?? decompressedRecordsData(view, options);
  let located: { layout: Int32Array; found: number };
  try {
    located = locateMarkers(data, count, key);
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within(`${view.path}: `) : error;
  }
  const { layout, found } = located;
  if (found === 0) return view.buffer;
  for (let slot = 5; slot < layout.length; slot += SLOTS) {
    if (layout[slot] === MORE_THAN_ONE) return stripByRebuilding(view, key, options);
  }

  const compression = view.compression;
  const headroom = compression === 0 ? BATCH_HEADER_SIZE : 0;
  let total = headroom;
  for (let slot = 0; slot < layout.length; slot += SLOTS) {
    const bodyLength = strippedBodyLength(layout, slot);
    total += varintSize(bodyLength) + bodyLength;
  }
  const records = rebuiltRecordsBuffer(compression, total);
  let pos = headroom;
  for (let slot = 0; slot < layout.length; slot += SLOTS) {
    const bodyStart = layout[slot]!;
    const bodyEnd = layout[slot + 1]!;
    const countStart = layout[slot + 2]!;
    const countEnd = layout[slot + 3]!;
    const headerCount = layout[slot + 4]!;
    const markerStart = layout[slot + 5]!;
    pos = writeVarint(records, pos, strippedBodyLength(layout, slot));
    if (markerStart < 0) {
      pos += data.copy(records, pos, bodyStart, bodyEnd);
      continue;
    }
    pos += data.copy(records, pos, bodyStart, countStart);
    pos = writeVarint(records, pos, headerCount - 1);
    pos += data.copy(records, pos, countEnd, markerStart);
    pos += data.copy(records, pos, layout[slot + 6]!, bodyEnd);
  }

  return sealRebuiltBatch(view, records);
}

function strippedBodyLength(layout: Int32Array, slot: number): number {
  const bodyLength = layout[slot + 1]! - layout[slot]!;
  const markerStart = layout[slot + 5]!;
  if (markerStart < 0) return bodyLength;
  const headerCount = layout[slot + 4]!;
  return (
    bodyLength -
    (layout[slot + 3]! - layout[slot + 2]!) +
    varintSize(headerCount - 1) -
    (layout[slot + 6]! - markerStart)
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
