import { RecordBatchError } from "../errors.ts";
import { loadNativeCodec } from "./native.ts";
import { codecFailure, type DecompressOptions, outputLimit, tooLarge } from "./options.ts";

interface SnappyModule {
  compressSync(input: Uint8Array): Buffer;
  uncompressSync(input: Uint8Array, options: { asBuffer: true }): Buffer;
}

/** snappy-java's stream header: magic, then version and minimum compatible version (BE int32 each). */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java SnappyOutputStream's default block size, which the Java producer uses. */
export const XERIAL_BLOCK_SIZE = 32 * 1024;

function snappyModule(path: string): SnappyModule {
  return loadNativeCodec<SnappyModule>("snappy", "snappy", path);
}

function startsWithXerialMagic(data: Buffer, at: number): boolean {
  return data.length - at >= XERIAL_HEADER_SIZE && data.compare(XERIAL_MAGIC, 0, 8, at, at + 8) === 0;
}

/** The uncompressed length a raw snappy block declares in its varint preamble. */
function rawUncompressedLength(data: Buffer, start: number, end: number, path: string): number {
  let value = 0;
  let scale = 1;
  for (let pos = start; pos < end && pos < start + 5; pos++) {
    const byte = data[pos];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  throw new RecordBatchError(path, "snappy block length preamble is malformed");
}

function uncompressRaw(snappy: SnappyModule, block: Buffer, path: string, limit: number): Buffer {
  try {
    return snappy.uncompressSync(block, { asBuffer: true });
  } catch (error) {
    throw codecFailure(path, "snappy", error, limit);
  }
}

/** Java-compatible snappy: xerial framing with 32 KiB blocks. */
export function snappyCompress(data: Buffer, path = "snappy"): Buffer {
  const snappy = snappyModule(path);
  const header = Buffer.allocUnsafe(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  const parts: Buffer[] = [header];
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_SIZE) {
    const block = snappy.compressSync(data.subarray(start, start + XERIAL_BLOCK_SIZE));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Raw snappy (one block, as librdkafka writes). */
export function snappyCompressRaw(data: Buffer, path = "snappy"): Buffer {
  return snappyModule(path).compressSync(data);
}

/** The uncompressed length of each snappy block (one for raw snappy, one per xerial chunk). */
export function snappyBlockLengths(data: Buffer, path = "snappy"): number[] {
  if (!startsWithXerialMagic(data, 0)) return [rawUncompressedLength(data, 0, data.length, path)];
  return xerialBlocks(data, path).map((block) => rawUncompressedLength(block, 0, block.length, path));
}

function xerialBlocks(data: Buffer, path: string): Buffer[] {
  const blocks: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (startsWithXerialMagic(data, pos)) {
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (data.length - pos < 4) throw new RecordBatchError(path, "xerial snappy block length past end");
    const blockLength = data.readInt32BE(pos);
    pos += 4;
    if (blockLength < 0 || blockLength > data.length - pos) {
      throw new RecordBatchError(path, `xerial snappy block of ${blockLength} bytes runs past end`);
    }
    blocks.push(data.subarray(pos, pos + blockLength));
    pos += blockLength;
  }
  return blocks;
}

/** Reads raw snappy or xerial-framed snappy, as Kafka's SnappyInputStream does. */
export function snappyDecompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  const snappy = snappyModule(path);
  const limit = outputLimit(options);
  if (!startsWithXerialMagic(data, 0)) {
    if (rawUncompressedLength(data, 0, data.length, path) > limit) throw tooLarge(path, "snappy", limit);
    return uncompressRaw(snappy, data, path, limit);
  }
  const blocks = xerialBlocks(data, path);
  let total = 0;
  for (const block of blocks) {
    total += rawUncompressedLength(block, 0, block.length, path);
    if (total > limit) throw tooLarge(path, "snappy", limit);
  }
  if (blocks.length === 1) return uncompressRaw(snappy, blocks[0], path, limit);
  const output = Buffer.allocUnsafe(total);
  let written = 0;
  for (const block of blocks) {
    const decoded = uncompressRaw(snappy, block, path, limit);
    if (written + decoded.length > total)
      throw new RecordBatchError(path, "snappy block longer than declared");
    decoded.copy(output, written);
    written += decoded.length;
  }
  return written === total ? output : output.subarray(0, written);
}
