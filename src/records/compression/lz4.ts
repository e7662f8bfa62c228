import { RecordBatchError } from "../errors.ts";
import { loadNativeCodec } from "./native.ts";
import {
  type CompressOptions,
  codecFailure,
  type DecompressOptions,
  outputLimit,
  tooLarge,
} from "./options.ts";

interface Lz4Module {
  /** One raw LZ4 block after a 4-byte little-endian length of the input. */
  compressSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

export const LZ4_FRAME_MAGIC = 0x184d2204;
const INCOMPRESSIBLE_BIT = 0x80000000;

const FLG_VERSION_SHIFT = 6;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICTIONARY_ID = 0x01;

export interface Lz4FrameLayout {
  blockIndependent: boolean;
  blockChecksum: boolean;
  contentChecksum: boolean;
  /** Maximum uncompressed size of one block (64 KiB to 4 MiB). */
  blockMaxSize: number;
  blockCount: number;
  /** Blocks stored uncompressed because they did not shrink. */
  storedBlockCount: number;
  /** Bytes from the frame start through its end mark (and content checksum). */
  frameLength: number;
}

function lz4Module(path: string): Lz4Module {
  return loadNativeCodec<Lz4Module>("lz4-napi", "lz4", path);
}

/**
 * Walks an LZ4 frame without decompressing it: validates the descriptor the way Kafka's
 * Lz4BlockInputStream does (version 1, independent blocks, 64 KiB..4 MiB blocks) and every block length.
 */
export function inspectLz4Frame(data: Buffer, path: string): Lz4FrameLayout {
  if (data.length < 7) throw new RecordBatchError(path, "lz4 frame header past end");
  if (data.readUInt32LE(0) !== LZ4_FRAME_MAGIC) throw new RecordBatchError(path, "lz4 frame magic is wrong");
  const flg = data[4];
  const bd = data[5];
  if (flg >>> FLG_VERSION_SHIFT !== 1) throw new RecordBatchError(path, "lz4 frame version is not 1");
  if (!(flg & FLG_BLOCK_INDEPENDENCE))
    throw new RecordBatchError(path, "lz4 dependent blocks are unsupported");
  if (flg & FLG_DICTIONARY_ID) throw new RecordBatchError(path, "lz4 dictionaries are unsupported");
  const blockSizeCode = (bd >>> 4) & 7;
  if (blockSizeCode < 4 || (bd & 0x8f) !== 0)
    throw new RecordBatchError(path, "lz4 block descriptor is invalid");
  const blockMaxSize = 1 << (2 * blockSizeCode + 8);
  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const contentChecksum = (flg & FLG_CONTENT_CHECKSUM) !== 0;
  let pos = 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + 1;
  let blockCount = 0;
  let storedBlockCount = 0;
  for (;;) {
    if (data.length - pos < 4) throw new RecordBatchError(path, "lz4 block length past end");
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const length = (word & ~INCOMPRESSIBLE_BIT) >>> 0;
    if (word & INCOMPRESSIBLE_BIT) storedBlockCount++;
    if (length > blockMaxSize) {
      throw new RecordBatchError(path, `lz4 block of ${length} bytes exceeds the maximum ${blockMaxSize}`);
    }
    pos += length + (blockChecksum ? 4 : 0);
    if (pos > data.length) throw new RecordBatchError(path, "lz4 block runs past end");
    blockCount++;
  }
  if (contentChecksum) pos += 4;
  if (pos > data.length) throw new RecordBatchError(path, "lz4 content checksum past end");
  return {
    blockIndependent: true,
    blockChecksum,
    contentChecksum,
    blockMaxSize,
    blockCount,
    storedBlockCount,
    frameLength: pos,
  };
}

/**
 * The frame header Kafka's Lz4BlockOutputStream writes: magic, FLG 0x60 (version 1, independent blocks, no
 * checksums, no content size), BD 0x40 (64 KiB blocks) and the descriptor's xxHash32 checksum byte.
 */
const FRAME_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
const FRAME_BLOCK_BYTES = 64 * 1024;
const END_MARK = Buffer.alloc(4);
const SIZE_PREFIX_BYTES = 4;

/**
 * LZ4 frame with independent 64 KiB blocks and no checksums, which Kafka's Lz4BlockInputStream reads. Blocks are
 * compressed one by one; a block that does not shrink is stored as it is (the frame's uncompressed-block flag),
 * as Kafka's own writer does.
 */
export function lz4Compress(data: Buffer, path = "lz4", options?: CompressOptions): Buffer {
  const lz4 = options?.incompressible ? undefined : lz4Module(path);
  const headroom = options?.headroom ?? 0;
  const parts: Buffer[] = headroom > 0 ? [Buffer.allocUnsafe(headroom), FRAME_HEADER] : [FRAME_HEADER];
  let total = headroom + FRAME_HEADER.length + END_MARK.length;
  for (let pos = 0; pos < data.length; pos += FRAME_BLOCK_BYTES) {
    const block = data.subarray(pos, Math.min(pos + FRAME_BLOCK_BYTES, data.length));
    const compressed = lz4?.compressSync(block);
    const compressedLength = compressed ? compressed.length - SIZE_PREFIX_BYTES : block.length;
    if (compressed && compressedLength < block.length) {
      compressed.writeUInt32LE(compressedLength, 0);
      parts.push(compressed);
      total += compressed.length;
    } else {
      const size = Buffer.allocUnsafe(SIZE_PREFIX_BYTES);
      size.writeUInt32LE((block.length | INCOMPRESSIBLE_BIT) >>> 0, 0);
      parts.push(size, block);
      total += SIZE_PREFIX_BYTES + block.length;
    }
  }
  parts.push(END_MARK);
  return Buffer.concat(parts, total);
}

/**
 * The content of a frame whose blocks are all stored uncompressed: their bytes, joined; for a single block, a
 * view of the frame's own bytes.
 */
function storedBlocks(data: Buffer, layout: Lz4FrameLayout): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  let pos = 6 + (data[4]! & FLG_CONTENT_SIZE ? 8 : 0) + 1;
  for (let block = 0; block < layout.blockCount; block++) {
    const length = (data.readUInt32LE(pos) & ~INCOMPRESSIBLE_BIT) >>> 0;
    pos += 4;
    parts.push(data.subarray(pos, pos + length));
    total += length;
    pos += length + (layout.blockChecksum ? 4 : 0);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

export function lz4Decompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  const limit = outputLimit(options);
  const layout = inspectLz4Frame(data, path);
  // Encoders fill every block but the last, so this bound is within one block of the real size.
  if (layout.blockCount * layout.blockMaxSize > limit) throw tooLarge(path, "lz4", limit);
  if (layout.storedBlockCount === layout.blockCount) return storedBlocks(data, layout);
  const lz4 = lz4Module(path);
  let output: Buffer;
  try {
    output = lz4.decompressFrameSync(data.subarray(0, layout.frameLength));
  } catch (error) {
    throw codecFailure(path, "lz4", error, limit);
  }
  if (output.length > limit) throw tooLarge(path, "lz4", limit);
  return output;
}
