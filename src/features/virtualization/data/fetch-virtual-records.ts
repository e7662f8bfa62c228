import { framePool } from "../../../net/frame-pool.ts";
import {
  buildBatch,
  buildEmptyBatch,
  iterateBatches,
  type LegacyMessageSetEntry,
  RecordBatchError,
  type RecordBatchView,
  stripHeaderFromEveryRecord,
} from "../../../records/index.ts";
import type { VirtualizationCounters } from "../context.ts";
import type { VirtualLayout } from "../mapping/rules.ts";
import { type BatchClassifier, EVERY_OWNER } from "./batch-owners.ts";

/** Offsets a consumer must skip that hold nothing for it: other partitions' batches, empty batches. */
export interface HiddenRun {
  start: bigint;
  end: bigint;
  /** partitionLeaderEpoch of the last hidden batch, so the consumer's last fetched epoch stays right. */
  leaderEpoch: number;
  maxTimestamp: bigint;
}

/** What one virtual partition receives from its physical partition's records, across fetch rounds. */
export class VirtualCursor {
  readonly v: number;
  /** The next offset this virtual partition needs. */
  position: bigint;
  /** Batches to return, in offset order. */
  readonly chunks: Buffer[] = [];
  /** Bytes of this virtual partition's own batches among the chunks. */
  ownBytes = 0;
  /** Hidden offsets after the last chunk, not yet written as a batch. */
  run: HiddenRun | undefined;
  /** Buffers made for this partition alone (rewritten batches, the joined records), freed after the reply. */
  readonly made: Buffer[] = [];
  /** The joined records when they are a pooled buffer, given back after the reply. */
  joined: Buffer | undefined;
  /** The records `finishCursor` made, handed out again if the partition is answered twice. */
  finished: Buffer | undefined;
  /**
   * A batch at `position` could not be read, or is this partition's own and failed its CRC (it would have been
   * re-signed): this partition gets nothing from it on (the client sees CORRUPT_MESSAGE once nothing comes
   * before it).
   */
  corrupt = false;

  constructor(v: number, fetchOffset: bigint) {
    this.v = v;
    this.position = fetchOffset;
  }

  /** Forgets what was gathered (the partition answered with an error). */
  reset(fetchOffset: bigint): void {
    this.position = fetchOffset;
    this.chunks.length = 0;
    this.ownBytes = 0;
    this.run = undefined;
    this.made.length = 0;
    this.joined = undefined;
    this.finished = undefined;
    this.corrupt = false;
  }
}

export interface SplitOptions {
  /** The physical topic's id (or its name when the id is unknown): part of the classification cache key. */
  topicKey: string;
  physicalPartition: number;
  layout: VirtualLayout;
  classifier: BatchClassifier;
  /** The marker header's key to strip from returned records, or undefined to keep it. */
  stripKey: Buffer | undefined;
  /**
   * Called for a batch that cannot be read (no cursor reads past it) or, when stripping, for an owned batch
   * whose CRC is wrong (its owner does not read past it): see `VirtualCursor.corrupt`.
   */
  onBadBatch?: (error: Error) => void;
  counters?: VirtualizationCounters;
}

export interface SplitResult {
  /** Complete batches read. */
  entries: number;
  /** partitionLeaderEpoch of the last complete v2 batch read, or undefined. */
  lastLeaderEpoch: number | undefined;
}

const INT32_MAX = 0x7fffffff;

/**
 * Distributes one physical partition's records among the virtual partitions being fetched from it: each
 * cursor gets the batches that belong to it (marker header stripped unless kept) at or after its position,
 * and every run of batches hidden from it becomes a pending run. A trailing partial batch is dropped.
 */
export function splitPhysicalRecords(
  records: Buffer,
  cursors: readonly VirtualCursor[],
  options: SplitOptions,
): SplitResult {
  let entries = 0;
  let lastLeaderEpoch: number | undefined;
  for (const entry of iterateBatches(records)) {
    if (entry.kind === "partial") break;
    entries++;
    let start: bigint;
    let end: bigint;
    let owner: number;
    let leaderEpoch = -1;
    let maxTimestamp = -1n;
    let decompressed: Buffer | undefined;
    if (entry.kind === "legacy") {
      start = end = (entry as LegacyMessageSetEntry).offset;
      owner = options.physicalPartition;
    } else {
      const view = entry as RecordBatchView;
      start = view.baseOffset;
      end = view.lastOffset;
      leaderEpoch = view.partitionLeaderEpoch;
      maxTimestamp = view.maxTimestamp;
      lastLeaderEpoch = leaderEpoch;
      try {
        const classification = options.classifier.classify(
          options.topicKey,
          options.physicalPartition,
          options.layout,
          view,
        );
        owner = classification.owner;
        decompressed = classification.data;
      } catch (error) {
        options.onBadBatch?.(error as Error);
        for (const cursor of cursors) if (end >= cursor.position) cursor.corrupt = true;
        continue;
      }
      if (options.stripKey && owner >= 0 && !view.isValidCrc()) {
        // The batch would be re-signed once stripped: a CRC that was wrong when it arrived must stay visible.
        options.onBadBatch?.(new RecordBatchError(view.path, "crc mismatch"));
        for (const cursor of cursors) if (cursor.v === owner && end >= cursor.position) cursor.corrupt = true;
      }
    }
    for (const cursor of cursors) {
      if (end < cursor.position || cursor.corrupt) continue;
      if (owner === cursor.v || owner === EVERY_OWNER) {
        flushRun(cursor, options.counters);
        const bytes =
          entry.kind === "batch" && owner === cursor.v
            ? ownBatchBytes(entry as RecordBatchView, options, decompressed)
            : entry.buffer;
        cursor.chunks.push(bytes);
        if (bytes !== entry.buffer) cursor.made.push(bytes);
        if (owner === cursor.v) cursor.ownBytes += bytes.length;
      } else {
        options.counters?.recordsFiltered(
          entry.kind === "batch" ? (entry as RecordBatchView).recordsCount : 1,
        );
        const run = cursor.run;
        if (run) {
          run.end = end;
          run.leaderEpoch = leaderEpoch;
          run.maxTimestamp = maxTimestamp;
        } else {
          const runStart = start > cursor.position ? start : cursor.position;
          cursor.run = { start: runStart, end, leaderEpoch, maxTimestamp };
        }
      }
      cursor.position = end + 1n;
    }
  }
  return { entries, lastLeaderEpoch };
}

function ownBatchBytes(
  view: RecordBatchView,
  options: SplitOptions,
  decompressed: Buffer | undefined,
): Buffer {
  if (!options.stripKey) return view.buffer;
  try {
    const stripped = stripHeaderFromEveryRecord(view, options.stripKey, decompressed);
    if (stripped !== view.buffer) options.counters?.batchReencoded();
    return stripped;
  } catch (error) {
    options.onBadBatch?.(error as Error);
    return view.buffer;
  }
}

/** Writes the cursor's pending run as empty batches: something follows it, so its position moves past it. */
function flushRun(cursor: VirtualCursor, counters: VirtualizationCounters | undefined): void {
  const run = cursor.run;
  if (!run) return;
  cursor.run = undefined;
  for (const batch of emptyBatchesFor(run.start, run.end, run.leaderEpoch)) {
    cursor.chunks.push(batch);
    counters?.emptyBatch();
  }
}

function emptyBatchesFor(start: bigint, end: bigint, leaderEpoch: number): Buffer[] {
  const out: Buffer[] = [];
  let base = start;
  while (base <= end) {
    const span = end - base > BigInt(INT32_MAX) ? INT32_MAX : Number(end - base);
    out.push(buildEmptyBatch({ baseOffset: base, lastOffsetDelta: span, partitionLeaderEpoch: leaderEpoch }));
    base += BigInt(span) + 1n;
  }
  return out;
}

/** Key and value of a COMMIT transaction marker (control record version 0, type 1; coordinator epoch 0). */
const COMMIT_MARKER_KEY = Buffer.from([0, 0, 0, 1]);
const COMMIT_MARKER_VALUE = Buffer.from([0, 0, 0, 0, 0, 0]);

/**
 * A batch standing for hidden offsets at the end of a response. The Java consumer and librdkafka move past an
 * empty batch (recordsCount 0) to lastOffset + 1, but KafkaJS only moves on from records it saw, so a trailing
 * run ends in one control record (a COMMIT marker without a producer id, which every client skips) at the
 * run's last offset. Runs longer than 2^31 offsets start with empty batches.
 */
export function trailingRunBatches(run: HiddenRun): Buffer[] {
  const lastStart = run.end - run.start > BigInt(INT32_MAX) ? run.end - BigInt(INT32_MAX) : run.start;
  const out = lastStart > run.start ? emptyBatchesFor(run.start, lastStart - 1n, run.leaderEpoch) : [];
  const span = Number(run.end - lastStart);
  out.push(
    buildBatch({
      baseOffset: lastStart,
      partitionLeaderEpoch: run.leaderEpoch,
      isControl: true,
      baseTimestamp: run.maxTimestamp >= 0n ? run.maxTimestamp : BigInt(Date.now()),
      lastOffsetDelta: span,
      records: [{ offsetDelta: span, key: COMMIT_MARKER_KEY, value: COMMIT_MARKER_VALUE }],
    }),
  );
  return out;
}

/**
 * The records blob for a virtual partition: its chunks, then its pending run. Chunks are joined in a buffer
 * from the frame pool (`cursor.joined`, or among `cursor.made` when too small to pool); batches made for the
 * partition are freed once copied there.
 */
export function finishCursor(cursor: VirtualCursor, counters?: VirtualizationCounters): Buffer {
  if (cursor.finished) return cursor.finished;
  cursor.finished = joinCursor(cursor, counters);
  return cursor.finished;
}

function joinCursor(cursor: VirtualCursor, counters: VirtualizationCounters | undefined): Buffer {
  const trailing = cursor.run ? trailingRunBatches(cursor.run) : undefined;
  if (trailing && counters) for (let i = 0; i < trailing.length; i++) counters.emptyBatch();
  const chunks = trailing ? [...cursor.chunks, ...trailing] : cursor.chunks;
  if (chunks.length === 1) return chunks[0]!;
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const joined = framePool.acquire(total);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(joined, offset);
  for (const made of cursor.made) framePool.discard(made);
  cursor.made.length = 0;
  if (framePool.lends(joined)) cursor.joined = joined;
  else cursor.made.push(joined);
  return joined;
}
