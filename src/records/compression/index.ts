import { RecordBatchError } from "../errors.ts";
import { gzipCompress, gzipDecompress } from "./gzip.ts";
import { lz4Compress, lz4Decompress } from "./lz4.ts";
import type { CompressOptions, DecompressOptions } from "./options.ts";
import { snappyCompress, snappyDecompress } from "./snappy.ts";
import { zstdCompress, zstdDecompress } from "./zstd.ts";

export { inspectLz4Frame, type Lz4FrameLayout } from "./lz4.ts";
export { type CompressOptions, DEFAULT_MAX_DECOMPRESSED_BYTES, type DecompressOptions } from "./options.ts";
export { snappyBlockLengths, snappyCompressRaw, XERIAL_BLOCK_SIZE, XERIAL_MAGIC } from "./snappy.ts";
export { zstdAvailable } from "./zstd.ts";

/** Codec ids as stored in attribute bits 0-2. */
export const CompressionType = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof CompressionType;
export type CompressionId = (typeof CompressionType)[CompressionName];

export const COMPRESSION_NAMES: readonly CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

export function compressionName(id: number, path = "attributes"): CompressionName {
  const name = COMPRESSION_NAMES[id];
  if (name === undefined) throw new RecordBatchError(path, `unknown compression codec ${id}`);
  return name;
}

export function compressionId(codec: CompressionName | number, path = "compression"): CompressionId {
  if (typeof codec === "number") {
    compressionName(codec, path);
    return codec as CompressionId;
  }
  const id = CompressionType[codec];
  if (id === undefined) throw new RecordBatchError(path, `unknown compression codec ${String(codec)}`);
  return id;
}

/** Compresses as the Java producer would for that codec (snappy: xerial framing; lz4: frame format). */
export function compress(
  codec: CompressionName | number,
  data: Buffer,
  path = "records",
  options?: CompressOptions,
): Buffer {
  switch (compressionId(codec, path)) {
    case CompressionType.none:
      return data;
    case CompressionType.gzip:
      return gzipCompress(data, options);
    case CompressionType.snappy:
      return snappyCompress(data, path);
    case CompressionType.lz4:
      return lz4Compress(data, path, options);
    case CompressionType.zstd:
      return zstdCompress(data, path, options);
  }
}

export function decompress(
  codec: CompressionName | number,
  data: Buffer,
  path = "records",
  options?: DecompressOptions,
): Buffer {
  switch (compressionId(codec, path)) {
    case CompressionType.none:
      return data;
    case CompressionType.gzip:
      return gzipDecompress(data, path, options);
    case CompressionType.snappy:
      return snappyDecompress(data, path, options);
    case CompressionType.lz4:
      return lz4Decompress(data, path, options);
    case CompressionType.zstd:
      return zstdDecompress(data, path, options);
  }
}
