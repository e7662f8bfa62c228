export {
  Attribute,
  BATCH_HEADER_SIZE,
  BatchLayout,
  CURRENT_MAGIC,
  LegacyMessageSetEntry,
  LOG_OVERHEAD,
  RecordBatchView,
  TimestampType,
  type TimestampTypeId,
} from "./batch-view.ts";
export {
  type BatchHeaderInput,
  type BatchInput,
  buildBatch,
  buildEmptyBatch,
  type EmptyBatchInput,
  headerOf,
  type ProducerState,
  type RebuildOptions,
  type RecordTransform,
  rebuildBatch,
  withBaseOffset,
  withPartitionLeaderEpoch,
  withProducerState,
} from "./builder.ts";
export {
  COMPRESSION_NAMES,
  type CompressionId,
  type CompressionName,
  CompressionType,
  type CompressOptions,
  compress,
  compressionId,
  compressionName,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type DecompressOptions,
  decompress,
  inspectLz4Frame,
  type Lz4FrameLayout,
  snappyBlockLengths,
  snappyCompressRaw,
  XERIAL_BLOCK_SIZE,
  XERIAL_MAGIC,
  zstdAvailable,
} from "./compression/index.ts";
export { crc32c, crc32cImplementation, crc32cJs } from "./crc32c.ts";
export { DecompressionLimitError, RecordBatchError, UnsupportedCompressionError } from "./errors.ts";
export {
  decimalHeaderOfFirstRecord,
  NO_HEADER,
  RECORD_SLOTS,
  REPEATED_HEADER,
  RecordSlot,
  type RecordsLayout,
  scanRecords,
} from "./headers.ts";
export { type BatchEntry, iterateBatches, PartialBatch, type SplitBatches, splitBatches } from "./iterate.ts";
export { hasHighProducerIds, remapProducerIds } from "./producer-ids.ts";
export {
  type Bytes,
  type DecodeOptions,
  decodeRecords,
  decompressedRecordsData,
  encodeRecords,
  iterateRecords,
  type KafkaRecord,
  type RecordHeader,
  type RecordHeaderInput,
  type RecordInput,
} from "./records.ts";
export { type SpliceOptions, setHeaderOnEveryRecord, stripHeaderFromEveryRecord } from "./splice.ts";
