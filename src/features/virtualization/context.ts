import type { Logger } from "../../log/logger.ts";
import type { AdminClient } from "../../topology/admin-client.ts";
import type { GroupCoordinators } from "../../topology/group-coordinators.ts";
import type { TopicDirectory } from "../../topology/topics.ts";
import type { VirtualizationRules } from "./mapping/rules.ts";

/** Counts of the feature's work, for metrics. */
export interface VirtualizationCounters {
  /** Virtual and physical partitions translated one into the other (one per partition entry). */
  partitionsRemapped(count: number): void;
  /** A record batch written anew: marker header added (Produce) or stripped (Fetch). */
  batchReencoded(): void;
  /** Records of batches hidden from a virtual partition because they belong to another one. */
  recordsFiltered(count: number): void;
  /** A batch made to stand for hidden offsets (empty, or ending in one control record). */
  emptyBatch(): void;
}

/** What every part of the virtualization feature shares. */
export interface VirtualizationContext {
  readonly rules: VirtualizationRules;
  /** Physical topics: names, ids and partition counts. */
  readonly topics: TopicDirectory;
  readonly coordinators: GroupCoordinators;
  /** The proxy's own requests (companion groups, lookups). */
  readonly admin: AdminClient;
  /** Record header that carries each record's virtual partition, as a decimal string. */
  readonly markerHeader: string;
  /** Keep the marker header on fetched records instead of stripping it. */
  readonly keepMarker: boolean;
  /** Bytes of fetches read ahead of consumers that are behind, across connections; 0 turns it off. */
  readonly readAheadBytes: number;
  /**
   * Largest decompressed size of one produced batch: a batch is decompressed and recompressed on the event
   * loop, so a small compressed batch that expands beyond this (a decompression bomb) is refused.
   */
  readonly maxDecompressedBatchBytes: number;
  readonly log: Logger;
  readonly counters?: VirtualizationCounters;
}
