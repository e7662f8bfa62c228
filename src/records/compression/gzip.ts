import { gunzipSync, gzipSync } from "node:zlib";
import {
  type CompressOptions,
  codecFailure,
  type DecompressOptions,
  outputLimit,
  zlibChunkSize,
} from "./options.ts";

export function gzipCompress(data: Buffer, options?: CompressOptions): Buffer {
  return gzipSync(data, options?.level === undefined ? undefined : { level: options.level });
}

export function gzipDecompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  const limit = outputLimit(options);
  try {
    return gunzipSync(data, { maxOutputLength: limit, chunkSize: zlibChunkSize(data.length, limit) });
  } catch (error) {
    throw codecFailure(path, "gzip", error, limit);
  }
}
