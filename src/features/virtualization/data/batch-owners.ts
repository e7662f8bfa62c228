import {
  CompressionType,
  type DecodeOptions,
  decimalHeaderOfFirstRecord,
  decompressedRecordsData,
  type RecordBatchView,
} from "../../../records/index.ts";
import { physicalOf, type VirtualLayout } from "../mapping/rules.ts";
import { LruCache } from "./lru-cache.ts";

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
   * `topicKey` names the physical topic (its id or name), `physicalPartition` is p. Throws RecordBatchError on
   * a batch that cannot be decompressed, or whose first record cannot be read up to the marker.
   */
  classify(
    topicKey: string,
    physicalPartition: number,
    layout: VirtualLayout,
    view: RecordBatchView,
  ): Classification {
    if (view.isControl) return { owner: EVERY_OWNER };
    if (view.recordsCount <= 0) return { owner: NO_OWNER };
    if (view.compression === CompressionType.none) {
      const marker = decimalHeaderOfFirstRecord(view.recordsData, this.markerKey);
      return { owner: ownerOf(marker, physicalPartition, layout) };
    }
    const key = `${topicKey}:${physicalPartition}:${view.baseOffset}:${view.crc}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return { owner: cached };
    const data = decompressedRecordsData(view, this.decode);
    const owner = ownerOf(decimalHeaderOfFirstRecord(data, this.markerKey), physicalPartition, layout);
    this.cache.set(key, owner);
    return { owner, data };
  }
}

function ownerOf(marker: number | undefined, physicalPartition: number, layout: VirtualLayout): number {
  if (marker === undefined) return physicalPartition;
  if (marker >= layout.virtualPartitions || physicalOf(layout, marker) !== physicalPartition)
    return physicalPartition;
  return marker;
}
