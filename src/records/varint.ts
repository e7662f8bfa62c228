import { RecordBatchError } from "./errors.ts";

/** A read position inside `buf`, bounded by `end`. Shared by the record decoders to avoid allocation. */
export interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
}

/** Zigzag varint (int32), as Kafka's ByteUtils.readVarint. */
export function readVarint(cursor: Cursor, path: string): number {
  const { buf, end } = cursor;
  let pos = cursor.pos;
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end) throw new RecordBatchError(path, "varint past end");
    const byte = buf[pos++];
    if (shift === 28) {
      if (byte >= 0x80) throw new RecordBatchError(path, "varint longer than 5 bytes");
      result |= byte << 28;
      break;
    }
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  cursor.pos = pos;
  return (result >>> 1) ^ -(result & 1);
}

/** Largest magnitude a varlong may hold here: its zigzag form must stay a safe integer. */
export const MAX_VARLONG_MAGNITUDE = 2 ** 52;

/** Zigzag varlong (int64) as a number, for values in [-2^52, 2^52 - 1]; others raise. */
export function readVarlong(cursor: Cursor, path: string): number {
  const { buf, end } = cursor;
  let pos = cursor.pos;
  let low = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end) throw new RecordBatchError(path, "varlong past end");
    const byte = buf[pos++];
    low |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      cursor.pos = pos;
      return (low >>> 1) ^ -(low & 1);
    }
    shift += 7;
    if (shift === 28) break;
  }
  let unsigned = low;
  let scale = 2 ** 28;
  for (let index = 4; ; index++) {
    if (pos >= end) throw new RecordBatchError(path, "varlong past end");
    if (index >= 10) throw new RecordBatchError(path, "varlong longer than 10 bytes");
    const byte = buf[pos++];
    unsigned += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
  }
  if (unsigned > Number.MAX_SAFE_INTEGER) throw new RecordBatchError(path, "varlong beyond 2^52");
  cursor.pos = pos;
  return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes taken by an unsigned varint (value < 2^53). */
export function unsignedVarintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

export function varintSize(value: number): number {
  return unsignedVarintSize(zigzag(value));
}

/** Writes a zigzag varint/varlong (number in the safe integer range); returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  let unsigned = zigzag(value);
  while (unsigned >= 0x80) {
    buf[pos++] = (unsigned & 0x7f) | 0x80;
    unsigned = Math.floor(unsigned / 128);
  }
  buf[pos++] = unsigned;
  return pos;
}
