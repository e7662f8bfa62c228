import type { VirtualizationContext } from "./context.ts";

const METADATA = 3;
const METADATA_VERSION = 12;
const REFRESH_MS = 10_000;

interface MetadataTopic {
  errorCode: number;
  name: string | null;
  topicId?: string;
  partitions: unknown[];
}

/**
 * The virtualized topics that exist in the cluster, looked up with one Metadata request for all topics and
 * kept for a while. Answers how many companion groups a group may have (the largest V / P among them), for
 * requests about every topic of a group (OffsetFetch for all topics, DeleteGroups).
 */
export class VirtualTopicCatalog {
  private readonly context: VirtualizationContext;
  private largest = 1;
  private fetchedAt = 0;
  private pending: Promise<number> | undefined;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  /** The largest number of virtual groups (V / P) among existing virtualized topics; at least 1. */
  maxGroups(maxAgeMs = REFRESH_MS): Promise<number> {
    if (Date.now() - this.fetchedAt < maxAgeMs) return Promise.resolve(this.largest);
    this.pending ??= this.refresh()
      .catch((error: Error) => {
        if (this.fetchedAt === 0) throw error;
        this.context.log.warn(
          { err: error.message },
          "topic catalog refresh failed; keeping the last answer",
        );
        return this.largest;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async refresh(): Promise<number> {
    const response = (await this.context.requestAnyBroker(METADATA, METADATA_VERSION, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    })) as { topics: MetadataTopic[] };
    this.context.topics.learn(response.topics);
    let largest = 1;
    for (const topic of response.topics) {
      if (topic.errorCode !== 0 || !topic.name) continue;
      const layout = this.context.rules.layoutOf(topic.name);
      if (layout && layout.groups > largest) largest = layout.groups;
    }
    this.largest = largest;
    this.fetchedAt = Date.now();
    return largest;
  }
}
