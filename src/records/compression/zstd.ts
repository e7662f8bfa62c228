import * as zlib from "node:zlib";
import { UnsupportedCompressionError } from "../errors.ts";
import {
  type CompressOptions,
  codecFailure,
  type DecompressOptions,
  outputLimit,
  zlibChunkSize,
} from "./options.ts";

type ZstdFunction = (
  data: Buffer,
  options?: { maxOutputLength?: number; chunkSize?: number; params?: Record<number, number> },
) => Buffer;

const ZSTD_C_COMPRESSION_LEVEL = (zlib.constants as Record<string, number>).ZSTD_c_compressionLevel ?? 100;

const zstdApi = zlib as unknown as { zstdCompressSync?: ZstdFunction; zstdDecompressSync?: ZstdFunction };

export const zstdAvailable = typeof zstdApi.zstdCompressSync === "function";

function unavailable(path: string): UnsupportedCompressionError {
  return new UnsupportedCompressionError(
    path,
    `zstd needs node:zlib zstd support (Node >= 22.15 or 23.8); this is Node ${process.versions.node}`,
  );
}

export function zstdCompress(data: Buffer, path = "zstd", options?: CompressOptions): Buffer {
  if (!zstdApi.zstdCompressSync) throw unavailable(path);
  const level = options?.level;
  return zstdApi.zstdCompressSync(
    data,
    level === undefined ? undefined : { params: { [ZSTD_C_COMPRESSION_LEVEL]: level } },
  );
}

export function zstdDecompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  if (!zstdApi.zstdDecompressSync) throw unavailable(path);
  const limit = outputLimit(options);
  try {
    return zstdApi.zstdDecompressSync(data, {
      maxOutputLength: limit,
      chunkSize: zlibChunkSize(data.length, limit),
    });
  } catch (error) {
    throw codecFailure(path, "zstd", error, limit);
  }
}
