import { KafkaProtocolError, nullNotAllowed } from "../errors.ts";
import { MAX_STRING_BYTES } from "./reader.ts";

/** Buffers at least this long are appended by reference instead of being copied. */
export const ZERO_COPY_THRESHOLD = 4096;
const DEFAULT_SLAB_BYTES = 64 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
const UUID_PATTERN = /^[0-9a-f]{32}$/;

/** Where a length prefix was reserved; see `Writer.reserveInt32` and `Writer.fillLength`. */
export interface LengthMark {
  readonly slot: Buffer;
  readonly startLength: number;
}

/**
 * Writes Kafka protocol primitives. Memory comes from slabs that are never rewound under a finished
 * message, so the Buffers returned by `finish()`/`finishChunks()` stay valid after `reset()` and reuse.
 * Large Buffers (records) become their own chunk, so `finishChunks()` re-encodes them without a copy.
 */
export class Writer {
  #slab: Buffer;
  #pos = 0;
  #start = 0;
  #chunks: Buffer[] = [];
  #chunkedBytes = 0;

  constructor(initialSlabBytes = DEFAULT_SLAB_BYTES) {
    this.#slab = Buffer.allocUnsafe(initialSlabBytes);
  }

  /** Bytes written since the last finish/reset. */
  get length(): number {
    return this.#chunkedBytes + this.#pos - this.#start;
  }

  /** Drops everything written since the last finish/reset. */
  reset(): void {
    this.#pos = this.#start;
    this.#chunks = [];
    this.#chunkedBytes = 0;
  }

  /** The message as one Buffer: a slice of the slab when it fits in one, else one concatenating copy. */
  finish(): Buffer {
    const tail = this.#slab.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    if (this.#chunks.length === 0) return tail;
    const chunks = this.#chunks;
    chunks.push(tail);
    const total = this.#chunkedBytes + tail.length;
    this.#chunks = [];
    this.#chunkedBytes = 0;
    return Buffer.concat(chunks, total);
  }

  /** The message as a list of Buffers (large appended Buffers by reference), ready for `socket.writev`. */
  finishChunks(): Buffer[] {
    const chunks = this.#chunks;
    if (this.#pos > this.#start) chunks.push(this.#slab.subarray(this.#start, this.#pos));
    this.#start = this.#pos;
    this.#chunks = [];
    this.#chunkedBytes = 0;
    return chunks;
  }

  /** Makes room for `n` more contiguous bytes. */
  ensure(n: number): void {
    if (this.#pos + n > this.#slab.length) this.#newSlab(n);
  }

  #newSlab(n: number): void {
    this.#sealSegment();
    const size = Math.max(n, Math.min(this.#slab.length * 2, MAX_SLAB_BYTES), DEFAULT_SLAB_BYTES);
    this.#slab = Buffer.allocUnsafe(size);
    this.#pos = 0;
    this.#start = 0;
  }

  #sealSegment(): void {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#slab.subarray(this.#start, this.#pos));
      this.#chunkedBytes += this.#pos - this.#start;
      this.#start = this.#pos;
    }
  }

  int8(value: number): void {
    if ((value << 24) >> 24 !== value) throw outOfRange("int8", value);
    this.ensure(1);
    this.#slab[this.#pos++] = value;
  }

  bool(value: boolean): void {
    if (typeof value !== "boolean") throw outOfRange("bool", value);
    this.ensure(1);
    this.#slab[this.#pos++] = value ? 1 : 0;
  }

  int16(value: number): void {
    if ((value << 16) >> 16 !== value) throw outOfRange("int16", value);
    this.#put16(value);
  }

  uint16(value: number): void {
    if ((value & 0xffff) !== value) throw outOfRange("uint16", value);
    this.#put16(value);
  }

  #put16(value: number): void {
    this.ensure(2);
    const b = this.#slab;
    const p = this.#pos;
    b[p] = value >>> 8;
    b[p + 1] = value;
    this.#pos = p + 2;
  }

  int32(value: number): void {
    if ((value | 0) !== value) throw outOfRange("int32", value);
    this.#put32(value);
  }

  uint32(value: number): void {
    if (value >>> 0 !== value) throw outOfRange("uint32", value);
    this.#put32(value);
  }

  #put32(value: number): void {
    this.ensure(4);
    const b = this.#slab;
    const p = this.#pos;
    b[p] = value >>> 24;
    b[p + 1] = value >>> 16;
    b[p + 2] = value >>> 8;
    b[p + 3] = value;
    this.#pos = p + 4;
  }

  int64(value: bigint): void {
    if (typeof value !== "bigint" || BigInt.asIntN(64, value) !== value) throw outOfRange("int64", value);
    this.ensure(8);
    this.#pos = this.#slab.writeBigInt64BE(value, this.#pos);
  }

  float64(value: number): void {
    if (typeof value !== "number") throw outOfRange("float64", value);
    this.ensure(8);
    this.#pos = this.#slab.writeDoubleBE(value, this.#pos);
  }

  unsignedVarint(value: number): void {
    if (value >>> 0 !== value) throw outOfRange("unsigned varint", value);
    this.ensure(5);
    const b = this.#slab;
    let p = this.#pos;
    let v = value;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.#pos = p;
  }

  varint(value: number): void {
    if ((value | 0) !== value) throw outOfRange("varint", value);
    this.unsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  varlong(value: bigint): void {
    if (typeof value !== "bigint" || BigInt.asIntN(64, value) !== value) throw outOfRange("varlong", value);
    let v = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    this.ensure(10);
    const b = this.#slab;
    let p = this.#pos;
    while (v >= 0x80n) {
      b[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    b[p++] = Number(v);
    this.#pos = p;
  }

  /** 32 lowercase hex characters as 16 bytes. */
  uuid(value: string): void {
    if (!UUID_PATTERN.test(value)) {
      throw new KafkaProtocolError("INVALID_VALUE", `uuid must be 32 lowercase hex characters: ${value}`);
    }
    this.ensure(16);
    this.#pos += this.#slab.write(value, this.#pos, 16, "hex");
  }

  string(value: string): void {
    if (value === null || value === undefined) throw nullNotAllowed();
    this.#utf8WithPrefix(value, false);
  }

  nullableString(value: string | null): void {
    if (value === null) this.int16(-1);
    else this.#utf8WithPrefix(value, false);
  }

  compactString(value: string): void {
    if (value === null || value === undefined) throw nullNotAllowed();
    this.#utf8WithPrefix(value, true);
  }

  compactNullableString(value: string | null): void {
    if (value === null) this.unsignedVarint(0);
    else this.#utf8WithPrefix(value, true);
  }

  #utf8WithPrefix(value: string, compact: boolean): void {
    if (value.length > MAX_STRING_BYTES) throw stringTooLong(Buffer.byteLength(value, "utf8"));
    const maxBytes = value.length * 3;
    let length: number;
    if (compact && maxBytes >= 0x7f) {
      length = Buffer.byteLength(value, "utf8");
      if (length > MAX_STRING_BYTES) throw stringTooLong(length);
      this.unsignedVarint(length + 1);
      this.ensure(length);
      this.#pos += this.#slab.write(value, this.#pos, length, "utf8");
      return;
    }
    const prefix = compact ? 1 : 2;
    this.ensure(prefix + maxBytes);
    const b = this.#slab;
    const at = this.#pos;
    length = b.write(value, at + prefix, maxBytes, "utf8");
    if (length > MAX_STRING_BYTES) throw stringTooLong(length);
    if (compact) b[at] = length + 1;
    else b.writeInt16BE(length, at);
    this.#pos = at + prefix + length;
  }

  bytes(value: Uint8Array): void {
    if (value === null || value === undefined) throw nullNotAllowed();
    this.int32(value.length);
    this.raw(value);
  }

  nullableBytes(value: Uint8Array | null): void {
    if (value === null) this.int32(-1);
    else this.bytes(value);
  }

  compactBytes(value: Uint8Array): void {
    if (value === null || value === undefined) throw nullNotAllowed();
    this.unsignedVarint(value.length + 1);
    this.raw(value);
  }

  compactNullableBytes(value: Uint8Array | null): void {
    if (value === null) this.unsignedVarint(0);
    else this.compactBytes(value);
  }

  /** Appends bytes as they are: copied when small, by reference when at least ZERO_COPY_THRESHOLD long. */
  raw(value: Uint8Array): void {
    const length = value.length;
    if (length >= ZERO_COPY_THRESHOLD) {
      this.#sealSegment();
      this.#chunks.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, length));
      this.#chunkedBytes += length;
      return;
    }
    this.ensure(length);
    this.#slab.set(value, this.#pos);
    this.#pos += length;
  }

  arrayLength(length: number): void {
    this.int32(length);
  }

  compactArrayLength(length: number): void {
    this.unsignedVarint(length + 1);
  }

  /** Reserves an int32 to be filled by `fillLength` with the number of bytes written after it. */
  reserveInt32(): LengthMark {
    this.ensure(4);
    const slot = this.#slab.subarray(this.#pos, this.#pos + 4);
    this.#pos += 4;
    return { slot, startLength: this.length };
  }

  fillLength(mark: LengthMark): void {
    mark.slot.writeInt32BE(this.length - mark.startLength, 0);
  }
}

function outOfRange(type: string, value: unknown): KafkaProtocolError {
  return new KafkaProtocolError("INVALID_VALUE", `${type} out of range: ${String(value)}`);
}

function stringTooLong(length: number): KafkaProtocolError {
  return new KafkaProtocolError("TOO_LARGE", `string of ${length} bytes exceeds ${MAX_STRING_BYTES}`);
}

/** Bytes taken by `value` as an unsigned varint. */
export function sizeOfUnsignedVarint(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}
