import type { TopicDirectory } from "../../../topology/topics.ts";
import type { VirtualizationRules } from "../mapping/rules.ts";

const LISTING_MAX_AGE_MS = 10_000;

/**
 * How many companion groups a group may have: the largest number of virtual groups (V / P) among the
 * virtualized topics that exist in the cluster, from the topic directory's listing of every topic (kept for a
 * while). For requests about every topic of a group (OffsetFetch for all topics, DeleteGroups).
 */
export class MaxGroupsCatalog {
  private readonly rules: VirtualizationRules;
  private readonly topics: TopicDirectory;

  constructor(rules: VirtualizationRules, topics: TopicDirectory) {
    this.rules = rules;
    this.topics = topics;
  }

  /**
   * The largest V / P among existing virtualized topics, at least 1, from a listing at most `maxAgeMs` old.
   * A failed refresh keeps the last listing; with none yet, the failure is thrown.
   */
  async maxGroups(maxAgeMs = LISTING_MAX_AGE_MS): Promise<number> {
    let largest = 1;
    for (const topic of await this.topics.listAll(maxAgeMs)) {
      const layout = this.rules.layoutOf(topic.name);
      if (layout && layout.groups > largest) largest = layout.groups;
    }
    return largest;
  }
}
