import * as zlib from "node:zlib";
import { UnsupportedCompressionError } from "../errors.ts";
import { codecFailure, type DecompressOptions, outputLimit } from "./limits.ts";

type ZstdFunction = (data: Buffer, options?: { maxOutputLength?: number }) => Buffer;

const zstdApi = zlib as unknown as { zstdCompressSync?: ZstdFunction; zstdDecompressSync?: ZstdFunction };

export const zstdAvailable = typeof zstdApi.zstdCompressSync === "function";

function unavailable(path: string): UnsupportedCompressionError {
  return new UnsupportedCompressionError(
    path,
    `zstd needs node:zlib zstd support (Node >= 22.15 or 23.8); this is Node ${process.versions.node}`,
  );
}

export function zstdCompress(data: Buffer, path = "zstd"): Buffer {
  if (!zstdApi.zstdCompressSync) throw unavailable(path);
  return zstdApi.zstdCompressSync(data);
}

export function zstdDecompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  if (!zstdApi.zstdDecompressSync) throw unavailable(path);
  const limit = outputLimit(options);
  try {
    return zstdApi.zstdDecompressSync(data, { maxOutputLength: limit });
  } catch (error) {
    throw codecFailure(path, "zstd", error, limit);
  }
}
