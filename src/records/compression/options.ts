import { DecompressionLimitError, RecordBatchError } from "../errors.ts";

/** Default ceiling on the decompressed size of one batch's records. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

export interface DecompressOptions {
  /** Refuse to produce more than this many bytes (guards against decompression bombs). */
  maxOutputBytes?: number;
}

export interface CompressOptions {
  /** Codec level (gzip 1-9, zstd 1-22); each codec's default when absent, as the Java producer uses. */
  level?: number;
  /** Bytes left unwritten before the compressed data (lz4 only; other codecs return none). */
  headroom?: number;
  /** The data is known not to shrink (lz4 only): its blocks are stored without trying to compress them. */
  incompressible?: boolean;
}

/** zlib output chunk size for an input: big enough to avoid many small chunks, small for small inputs. */
export function zlibChunkSize(inputLength: number, limit: number): number {
  const wanted = Math.min(1 << 20, Math.max(1 << 16, inputLength * 4));
  return Math.max(64, Math.min(wanted, limit));
}

export function outputLimit(options: DecompressOptions | undefined): number {
  return options?.maxOutputBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
}

export function tooLarge(path: string, codec: string, limit: number): RecordBatchError {
  return new DecompressionLimitError(path, `${codec} output exceeds the limit of ${limit} bytes`);
}

/** Wraps a failure of an underlying codec library into a typed error. */
export function codecFailure(path: string, codec: string, cause: unknown, limit: number): RecordBatchError {
  if (cause instanceof RecordBatchError) return cause;
  if ((cause as { code?: string })?.code === "ERR_BUFFER_TOO_LARGE") return tooLarge(path, codec, limit);
  const message = cause instanceof Error ? cause.message : String(cause);
  return new RecordBatchError(path, `${codec} data is corrupt (${message})`, { cause });
}
