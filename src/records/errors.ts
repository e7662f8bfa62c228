/**
 * Raised for any malformed, truncated or unsupported record data.
 * `path` names the offending field, e.g. `batch at offset 123: records[5].headers[2].key`.
 */
export class RecordBatchError extends Error {
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`${path}: ${problem}`, options);
    this.name = "RecordBatchError";
    this.path = path;
    this.problem = problem;
  }

  /** The same problem, located under an outer path (`outer.path` or `outer: path`). */
  within(prefix: string): RecordBatchError {
    return new RecordBatchError(`${prefix}${this.path}`, this.problem, { cause: this.cause });
  }
}

/** Raised when decompressed records would exceed the caller's limit (`DecompressOptions.maxOutputBytes`). */
export class DecompressionLimitError extends RecordBatchError {
  constructor(path: string, problem: string) {
    super(path, problem);
    this.name = "DecompressionLimitError";
  }

  override within(prefix: string): RecordBatchError {
    return new DecompressionLimitError(`${prefix}${this.path}`, this.problem);
  }
}

/** Raised when a codec cannot run here (e.g. zstd on a Node without zlib zstd). */
export class UnsupportedCompressionError extends RecordBatchError {
  constructor(path: string, problem: string) {
    super(path, problem);
    this.name = "UnsupportedCompressionError";
  }

  override within(prefix: string): RecordBatchError {
    return new UnsupportedCompressionError(`${prefix}${this.path}`, this.problem);
  }
}
