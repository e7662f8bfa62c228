import { RecordBatchError } from "./errors.ts";
import { type Cursor, readVarint, readVarlong } from "./varint.ts";

/**
 * Where the parts of each record of a records section lie, as `scanRecords` finds them without decoding keys,
 * values or headers: RECORD_SLOTS int32 per record, at these places.
 */
export const RecordSlot = {
  /** After the record's length varint. */
  bodyStart: 0,
  bodyEnd: 1,
  /** The header count varint. */
  headerCountStart: 2,
  headerCountEnd: 3,
  headerCount: 4,
  /**
   * Where the header named by the scan's key starts (at its key length varint): NO_HEADER when the record has
   * none, REPEATED_HEADER when it has more than one.
   */
  headerStart: 5,
  /** Where that header's value starts, after its length varint (a null value is empty). */
  headerValueStart: 6,
  headerEnd: 7,
} as const;

export const RECORD_SLOTS = 8;
export const NO_HEADER = -1;
export const REPEATED_HEADER = -2;

export interface RecordsLayout {
  /** RECORD_SLOTS per record (see `RecordSlot`). */
  readonly layout: Int32Array;
  /** Records that hold the header named by the scan's key. */
  readonly found: number;
}

function skipBytesField(cursor: Cursor, field: string): void {
  const length = readVarint(cursor, field);
  if (length < -1) throw new RecordBatchError(field, `negative length ${length}`);
  if (length > cursor.end - cursor.pos) throw new RecordBatchError(field, "length past end");
  if (length > 0) cursor.pos += length;
}

/** Whether `data` holds `key` at `start`: for a header key's few bytes, a loop beats a native compare call. */
function holdsAt(data: Buffer, start: number, key: Buffer): boolean {
  for (let i = 0; i < key.length; i++) if (data[start + i] !== key[i]) return false;
  return true;
}

/**
 * The one record header scanner. Reads the record at `cursor.pos` into `layout` at `slot` and leaves the cursor
 * after it. Without `key`, the headers are not read (only their count). With `key`, each header is read and
 * checked and the one named `key` located; `stopAtKey` stops at the first such header, leaving the rest of the
 * record unread and the cursor inside it. Returns whether the record holds `key`.
 */
function scanRecord(
  cursor: Cursor,
  layout: Int32Array,
  slot: number,
  key: Buffer | undefined,
  stopAtKey: boolean,
): boolean {
  const data = cursor.buf;
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
  layout[slot + RecordSlot.bodyStart] = bodyStart;
  layout[slot + RecordSlot.bodyEnd] = bodyEnd;
  layout[slot + RecordSlot.headerCountStart] = countStart;
  layout[slot + RecordSlot.headerCountEnd] = cursor.pos;
  layout[slot + RecordSlot.headerCount] = headerCount;
  layout[slot + RecordSlot.headerStart] = NO_HEADER;
  if (key === undefined) {
    cursor.pos = bodyEnd;
    return false;
  }
  let found = false;
  let header = 0;
  try {
    for (; header < headerCount; header++) {
      const headerStart = cursor.pos;
      const keyLength = readVarint(cursor, "key");
      if (keyLength < 0 || keyLength > bodyEnd - cursor.pos)
        throw new RecordBatchError("key", "length past end");
      const keyStart = cursor.pos;
      cursor.pos += keyLength;
      const valueLength = readVarint(cursor, "value");
      const valueStart = cursor.pos;
      if (valueLength < -1) throw new RecordBatchError("value", `negative length ${valueLength}`);
      if (valueLength > bodyEnd - valueStart) throw new RecordBatchError("value", "length past end");
      if (valueLength > 0) cursor.pos += valueLength;
      if (keyLength !== key.length || !holdsAt(data, keyStart, key)) continue;
      if (found) {
        layout[slot + RecordSlot.headerStart] = REPEATED_HEADER;
        continue;
      }
      found = true;
      layout[slot + RecordSlot.headerStart] = headerStart;
      layout[slot + RecordSlot.headerValueStart] = valueStart;
      layout[slot + RecordSlot.headerEnd] = cursor.pos;
      if (stopAtKey) return true;
    }
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within(`headers[${header}].`) : error;
  }
  if (cursor.pos !== bodyEnd) throw new RecordBatchError("length", "record body has bytes after its headers");
  return found;
}

/**
 * Finds, in each of the `count` records of a (decompressed) records section, its body and header count and,
 * when `key` is given, the header named `key` (every header is then read and checked). Keys, values and
 * headers are skipped, never decoded. Raises RecordBatchError when the records are malformed or do not fill
 * `data` exactly.
 */
export function scanRecords(data: Buffer, count: number, key?: Buffer): RecordsLayout {
  const layout = new Int32Array(count * RECORD_SLOTS);
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  let found = 0;
  for (let index = 0; index < count; index++) {
    try {
      if (scanRecord(cursor, layout, index * RECORD_SLOTS, key, false)) found++;
    } catch (error) {
      throw error instanceof RecordBatchError ? error.within(`records[${index}].`) : error;
    }
    cursor.end = data.length;
  }
  if (cursor.pos !== data.length) {
    throw new RecordBatchError(
      "records",
      `${data.length - cursor.pos} bytes left after the ${count} records`,
    );
  }
  return { layout, found };
}

const firstRecord = new Int32Array(RECORD_SLOTS);

/**
 * The value of the first header named `key` in the first record of a (decompressed) records section, read as
 * a non-negative decimal integer of at most 9 digits; undefined when the record has no such header or its
 * value is no such number. The record is read only up to that header. Raises RecordBatchError when the record
 * is malformed before it.
 */
export function decimalHeaderOfFirstRecord(data: Buffer, key: Buffer): number | undefined {
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  try {
    if (!scanRecord(cursor, firstRecord, 0, key, true)) return undefined;
  } catch (error) {
    throw error instanceof RecordBatchError ? error.within("records[0].") : error;
  }
  return parseDecimal(data, firstRecord[RecordSlot.headerValueStart]!, firstRecord[RecordSlot.headerEnd]!);
}

/** A non-negative decimal ASCII integer of at most 9 digits, or undefined. */
function parseDecimal(data: Buffer, start: number, end: number): number | undefined {
  if (end <= start || end - start > 9) return undefined;
  let value = 0;
  for (let pos = start; pos < end; pos++) {
    const digit = data[pos]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}
