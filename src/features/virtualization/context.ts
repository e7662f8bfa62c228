import type { Logger } from "../../log/logger.ts";
import type { VirtualizationRules } from "./rules.ts";
import type { TopicIndex } from "./topic-index.ts";

/** What every part of the virtualization feature shares. */
export interface VirtualizationContext {
  readonly rules: VirtualizationRules;
  readonly topics: TopicIndex;
  /** Record header that carries each record's virtual partition, as a decimal string. */
  readonly markerHeader: string;
  /** Keep the marker header on fetched records instead of stripping it. */
  readonly keepMarker: boolean;
  /** Bytes of fetches read ahead of consumers that are behind, across connections; 0 turns it off. */
  readonly readAheadBytes?: number;
  readonly log: Logger;
  /** Sends a request to the cluster's controller-agnostic any broker (for lookups the proxy makes itself). */
  readonly requestAnyBroker: (apiKey: number, apiVersion: number, body: unknown) => Promise<unknown>;
}
