import { RecordBatchError } from "../errors.ts";
import { loadNativeCodec } from "./native.ts";
import { codecFailure, type DecompressOptions, outputLimit, tooLarge } from "./options.ts";

interface Lz4Module {
  compressFrameSync(data: Buffer): Buffer;
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
  for (;;) {
    if (data.length - pos < 4) throw new RecordBatchError(path, "lz4 block length past end");
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const length = (word & ~INCOMPRESSIBLE_BIT) >>> 0;
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
    frameLength: pos,
  };
}

/** LZ4 frame with independent blocks and no checksums, which Kafka's Lz4BlockInputStream reads. */
export function lz4Compress(data: Buffer, path = "lz4"): Buffer {
  return lz4Module(path).compressFrameSync(data);
}

export function lz4Decompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  const limit = outputLimit(options);
  const layout = inspectLz4Frame(data, path);
  const lz4 = lz4Module(path);
  // Encoders fill every block but the last, so this bound is within one block of the real size.
  if (layout.blockCount * layout.blockMaxSize > limit) throw tooLarge(path, "lz4", limit);
  let output: Buffer;
  try {
    output = lz4.decompressFrameSync(data.subarray(0, layout.frameLength));
  } catch (error) {
    throw codecFailure(path, "lz4", error, limit);
  }
  if (output.length > limit) throw tooLarge(path, "lz4", limit);
  return output;
}
