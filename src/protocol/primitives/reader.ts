import { KafkaProtocolError, nullNotAllowed } from "../errors.ts";

/** Longest string Kafka accepts in a message field (Java rejects longer ones on read and write). */
export const MAX_STRING_BYTES = 0x7fff;

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ASCII_SCAN_LIMIT = 128;

/**
 * The text of recently read uuids (topic ids, read in every Produce and Fetch since v13), in slots chosen by
 * their bits: a uuid read again is compared as four integers instead of formatted anew.
 */
const UUID_SLOTS = 64;
const uuidWords = new Int32Array(UUID_SLOTS * 4);
const uuidTexts: (string | undefined)[] = new Array(UUID_SLOTS).fill(undefined);

/**
 * Reads Kafka protocol primitives from `buf[offset, end)`. Every length is checked against the bytes
 * actually present before anything is allocated; byte fields come back as slices of `buf`, never copies.
 */
export class Reader {
  buf: Buffer;
  offset: number;
  end: number;
  private elementLimit = Number.POSITIVE_INFINITY;
  private elementBudget = Number.POSITIVE_INFINITY;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new KafkaProtocolError(
        "INVALID_VALUE",
        `reader bounds [${offset}, ${end}) outside ${buf.length}`,
      );
    }
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  /**
   * Caps the array elements decoded across every array of the message: a frame of minimal elements (a
   * 100 MiB DeleteGroups of empty names) would otherwise become ~100 million objects.
   */
  limitElements(limit: number): this {
    this.elementLimit = this.elementBudget = limit;
    return this;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  /** Throws TRUNCATED unless `n` more bytes are present. */
  need(n: number): void {
    if (n > this.end - this.offset) throw truncated(n, this.end - this.offset);
  }

  int8(): number {
    if (this.offset >= this.end) throw truncated(1, 0);
    return (this.buf[this.offset++] << 24) >> 24;
  }

  bool(): boolean {
    if (this.offset >= this.end) throw truncated(1, 0);
    return this.buf[this.offset++] !== 0;
  }

  int16(): number {
    const o = this.offset;
    if (o + 2 > this.end) throw truncated(2, this.end - o);
    this.offset = o + 2;
    const b = this.buf;
    return ((b[o] << 24) | (b[o + 1] << 16)) >> 16;
  }

  uint16(): number {
    const o = this.offset;
    if (o + 2 > this.end) throw truncated(2, this.end - o);
    this.offset = o + 2;
    const b = this.buf;
    return (b[o] << 8) | b[o + 1];
  }

  int32(): number {
    const o = this.offset;
    if (o + 4 > this.end) throw truncated(4, this.end - o);
    this.offset = o + 4;
    const b = this.buf;
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  int64(): bigint {
    const o = this.offset;
    if (o + 8 > this.end) throw truncated(8, this.end - o);
    this.offset = o + 8;
    return this.buf.readBigInt64BE(o);
  }

  float64(): number {
    const o = this.offset;
    if (o + 8 > this.end) throw truncated(8, this.end - o);
    this.offset = o + 8;
    return this.buf.readDoubleBE(o);
  }

  /** An unsigned LEB128 of at most 5 bytes whose value fits 32 bits. */
  unsignedVarint(): number {
    const b = this.buf;
    let o = this.offset;
    const end = this.end;
    if (o < end) {
      const first = b[o];
      if (first < 0x80) {
        this.offset = o + 1;
        return first;
      }
    }
    let value = 0;
    let shift = 0;
    for (;;) {
      if (o >= end) throw new KafkaProtocolError("TRUNCATED", "varint runs past end of frame");
      const byte = b[o++];
      if (shift === 28) {
        if (byte > 0x0f) throw new KafkaProtocolError("INVALID_VARINT", "unsigned varint exceeds 32 bits");
        value += byte * 0x10000000;
        break;
      }
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        value >>>= 0;
        break;
      }
      shift += 7;
    }
    this.offset = o;
    return value;
  }

  /** A zigzag-encoded signed 32-bit varint. */
  varint(): number {
    const raw = this.unsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag-encoded signed 64-bit varint of at most 10 bytes. */
  varlong(): bigint {
    const b = this.buf;
    let o = this.offset;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (o >= this.end) throw new KafkaProtocolError("TRUNCATED", "varlong runs past end of frame");
      const byte = b[o++];
      const bits = byte & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else if (shift < 63) hi |= bits << (shift - 32);
      else {
        if (byte > 1) throw new KafkaProtocolError("INVALID_VARINT", "varlong exceeds 64 bits");
        hi |= byte << 31;
        break;
      }
      if (byte < 0x80) break;
      shift += 7;
    }
    this.offset = o;
    const raw = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return (raw >> 1n) ^ -(raw & 1n);
  }

  /** 16 bytes as 32 lowercase hex characters. */
  uuid(): string {
    const o = this.offset;
    if (o + 16 > this.end) throw truncated(16, this.end - o);
    this.offset = o + 16;
    const buf = this.buf;
    const a = buf.readInt32BE(o);
    const b = buf.readInt32BE(o + 4);
    const c = buf.readInt32BE(o + 8);
    const d = buf.readInt32BE(o + 12);
    const slot = (a ^ b ^ c ^ d) & (UUID_SLOTS - 1);
    const at = slot * 4;
    const known = uuidTexts[slot];
    if (
      known !== undefined &&
      uuidWords[at] === a &&
      uuidWords[at + 1] === b &&
      uuidWords[at + 2] === c &&
      uuidWords[at + 3] === d
    )
      return known;
    const text = buf.toString("hex", o, o + 16);
    uuidWords[at] = a;
    uuidWords[at + 1] = b;
    uuidWords[at + 2] = c;
    uuidWords[at + 3] = d;
    uuidTexts[slot] = text;
    return text;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw length === -1 ? nullNotAllowed() : negativeLength(length);
    return this.utf8(length);
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) {
      if (length === -1) return null;
      throw negativeLength(length);
    }
    return this.utf8(length);
  }

  compactString(): string {
    const length = this.unsignedVarint() - 1;
    if (length < 0) throw nullNotAllowed();
    if (length > MAX_STRING_BYTES) throw stringTooLong(length);
    return this.utf8(length);
  }

  compactNullableString(): string | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    if (length > MAX_STRING_BYTES) throw stringTooLong(length);
    return this.utf8(length);
  }

  /** `length` bytes of strictly valid UTF-8. */
  utf8(length: number): string {
    const start = this.offset;
    const end = start + length;
    if (end > this.end) throw pastEnd(length, this.end - start);
    const b = this.buf;
    this.offset = end;
    if (length <= ASCII_SCAN_LIMIT) {
      let i = start;
      while (i < end && b[i] < 0x80) i++;
      if (i === end) return b.toString("latin1", start, end);
    }
    try {
      return fatalUtf8.decode(b.subarray(start, end));
    } catch {
      this.offset = start;
      throw new KafkaProtocolError("INVALID_UTF8", `string of ${length} bytes is not valid UTF-8`);
    }
  }

  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) throw length === -1 ? nullNotAllowed() : negativeLength(length);
    return this.raw(length);
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) {
      if (length === -1) return null;
      throw negativeLength(length);
    }
    return this.raw(length);
  }

  compactBytes(): Buffer {
    const length = this.unsignedVarint() - 1;
    if (length < 0) throw nullNotAllowed();
    return this.raw(length);
  }

  compactNullableBytes(): Buffer | null {
    const length = this.unsignedVarint() - 1;
    if (length < 0) return null;
    return this.raw(length);
  }

  /** The next `length` bytes as a slice (no copy). */
  raw(length: number): Buffer {
    const start = this.offset;
    if (length > this.end - start) throw pastEnd(length, this.end - start);
    this.offset = start + length;
    return this.buf.subarray(start, start + length);
  }

  /**
   * An int32 array length: -1 for null, otherwise checked so that `length * minElementBytes` bytes are
   * present (minElementBytes >= 1: at least one byte per element, as Java checks) before the caller allocates anything.
   */
  arrayLength(minElementBytes: number): number {
    return this.checkArrayLength(this.int32(), minElementBytes);
  }

  /** A compact (unsigned varint + 1) array length, -1 for null, checked like `arrayLength`. */
  compactArrayLength(minElementBytes: number): number {
    return this.checkArrayLength(this.unsignedVarint() - 1, minElementBytes);
  }

  checkArrayLength(length: number, minElementBytes: number): number {
    if (length < 0) {
      if (length === -1) return -1;
      throw negativeLength(length);
    }
    const left = this.end - this.offset;
    this.elementBudget -= length;
    if (this.elementBudget < 0) {
      throw new KafkaProtocolError("TOO_LARGE", `more than ${this.elementLimit} array elements`);
    }
    if (length * minElementBytes > left) {
      throw new KafkaProtocolError(
        "TRUNCATED",
        `array of ${length} elements cannot fit in the ${left} bytes left in the frame`,
      );
    }
    return length;
  }
}

function truncated(needed: number, left: number): KafkaProtocolError {
  return new KafkaProtocolError("TRUNCATED", `needs ${needed} bytes, ${left} left in frame`);
}

function pastEnd(length: number, left: number): KafkaProtocolError {
  return new KafkaProtocolError("TRUNCATED", `length ${length} past end of frame (${left} bytes left)`);
}

function negativeLength(length: number): KafkaProtocolError {
  return new KafkaProtocolError("NEGATIVE_LENGTH", `invalid negative length ${length}`);
}

function stringTooLong(length: number): KafkaProtocolError {
  return new KafkaProtocolError("TOO_LARGE", `string length ${length} exceeds ${MAX_STRING_BYTES}`);
}
