import { type DecodeOptions, decompressedRecordsData, type RecordBatchView } from "../../records/index.ts";
import { type Cursor, readVarint, readVarlong } from "../../records/varint.ts";

/** A batch that belongs to no virtual partition: it holds no records (compaction leftovers). */
export const NO_OWNER = -1;
/** A batch every virtual partition of its physical partition must see: transaction markers. */
export const EVERY_OWNER = -2;

export interface Classification {
  /** The virtual partition the batch belongs to, NO_OWNER or EVERY_OWNER. */
  owner: number;
  /** The decompressed records when classifying had to decompress them (reuse them to strip the marker). */
  data?: Buffer;
}

/**
 * Reads the marker header of a batch's first record: the virtual partition as decimal ASCII, or undefined
 * when the first record has no such header. Only the first record is read; keys and values are skipped.
 */
export function markerOfFirstRecord(data: Buffer, markerKey: Buffer): number | undefined {
  const cursor: Cursor = { buf: data, pos: 0, end: data.length };
  const bodyLength = readVarint(cursor, "length");
  const end = cursor.pos + bodyLength;
  if (bodyLength < 1 || end > data.length) return undefined;
  cursor.end = end;
  cursor.pos++;
  readVarlong(cursor, "timestampDelta");
  readVarint(cursor, "offsetDelta");
  skipBytes(cursor);
  skipBytes(cursor);
  const headerCount = readVarint(cursor, "headers");
  for (let index = 0; index < headerCount; index++) {
    const keyLength = readVarint(cursor, "header key");
    const keyStart = cursor.pos;
    if (keyLength < 0 || keyLength > end - keyStart) return undefined;
    cursor.pos += keyLength;
    const valueLength = readVarint(cursor, "header value");
    const valueStart = cursor.pos;
    if (valueLength > end - valueStart) return undefined;
    if (valueLength > 0) cursor.pos += valueLength;
    if (
      keyLength === markerKey.length &&
      data.compare(markerKey, 0, keyLength, keyStart, keyStart + keyLength) === 0
    )
      return parseDecimal(data, valueStart, valueStart + valueLength);
  }
  return undefined;
}

function skipBytes(cursor: Cursor): void {
  const length = readVarint(cursor, "bytes");
  if (length > 0) cursor.pos += length;
  if (cursor.pos > cursor.end) cursor.pos = cursor.end;
}

/** A non-negative decimal ASCII integer of at most 9 digits, or undefined. */
function parseDecimal(data: Buffer, start: number, end: number): number | undefined {
  if (end <= start || end - start > 9) return undefined;
  let value = 0;
  for (let pos = start; pos < end; pos++) {
    const digit = data[pos]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

/** A bounded map that forgets the least recently used entry first. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}

export interface BatchClassifierOptions {
  markerHeader: string;
  /** Compressed batches whose owner is remembered (default 200,000). */
  cacheEntries?: number;
  decode?: DecodeOptions;
}

/**
 * Decides which virtual partition each batch of a physical partition belongs to, from its first record's
 * marker header: one batch never mixes virtual partitions. A batch without the marker (or with one that does
 * not name a virtual partition of this physical partition) belongs to v = p. Owners of compressed batches are
 * cached by (topic, p, baseOffset, crc), so a batch is decompressed once to classify it, not on every fetch.
 */
export class BatchClassifier {
  private readonly markerKey: Buffer;
  private readonly cache: LruCache<string, number>;
  private readonly decode: DecodeOptions | undefined;

  constructor(options: BatchClassifierOptions) {
    this.markerKey = Buffer.from(options.markerHeader, "utf8");
    this.cache = new LruCache(options.cacheEntries ?? 200_000);
    this.decode = options.decode;
  }

  get cachedBatches(): number {
    return this.cache.size;
  }

  /**
   * `topicKey` names the physical topic (its id or name), `physicalPartition` is p, `virtualPartitions` V and
   * `physicalPartitions` P. Throws RecordBatchError on a batch that cannot be decompressed or read.
   */
  classify(
    topicKey: string,
    physicalPartition: number,
    physicalPartitions: number,
    virtualPartitions: number,
    view: RecordBatchView,
  ): Classification {
    if (view.isControl) return { owner: EVERY_OWNER };
    if (view.recordsCount <= 0) return { owner: NO_OWNER };
    if (view.compression === 0) {
      return {
        owner: ownerOf(
          markerOfFirstRecord(view.recordsData, this.markerKey),
          physicalPartition,
          physicalPartitions,
          virtualPartitions,
        ),
      };
    }
    const key = `${topicKey}:${physicalPartition}:${view.baseOffset}:${view.crc}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return { owner: cached };
    const data = decompressedRecordsData(view, this.decode);
    const owner = ownerOf(
      markerOfFirstRecord(data, this.markerKey),
      physicalPartition,
      physicalPartitions,
      virtualPartitions,
    );
    this.cache.set(key, owner);
    return { owner, data };
  }
}

function ownerOf(
  marker: number | undefined,
  physicalPartition: number,
  physicalPartitions: number,
  virtualPartitions: number,
): number {
  if (marker === undefined) return physicalPartition;
  if (marker >= virtualPartitions || marker % physicalPartitions !== physicalPartition)
    return physicalPartition;
  return marker;
}
