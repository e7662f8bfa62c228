import { gunzipSync, gzipSync } from "node:zlib";
import { codecFailure, type DecompressOptions, outputLimit } from "./limits.ts";

export function gzipCompress(data: Buffer): Buffer {
  return gzipSync(data);
}

export function gzipDecompress(data: Buffer, path: string, options?: DecompressOptions): Buffer {
  const limit = outputLimit(options);
  try {
    return gunzipSync(data, { maxOutputLength: limit });
  } catch (error) {
    throw codecFailure(path, "gzip", error, limit);
  }
}
