import type { TopicDirectory } from "../../../topology/topics.ts";
import type { VirtualizationRules } from "../mapping/rules.ts";

const LISTING_MAX_AGE_MS = 10_000;
/** Up to this many virtual groups, the rules' own bound is used rather than a listing of the cluster's topics. */
const RULE_BOUND_UP_TO = 64;

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
  /**
   * A bound on the companion groups any group may have, without asking the cluster when the rules' own bound
   * is small: sending a few requests for companion groups that do not exist costs less than listing every
   * topic of the cluster.
   */
  async upperBound(): Promise<number> {
    const byRules = this.rules.largestGroups;
    return byRules <= RULE_BOUND_UP_TO ? byRules : this.maxGroups();
  }

  async maxGroups(maxAgeMs = LISTING_MAX_AGE_MS): Promise<number> {
    let largest = 1;
    for (const topic of await this.topics.listAll(maxAgeMs)) {
      const layout = this.rules.layoutOf(topic.name);
      if (layout && layout.groups > largest) largest = layout.groups;
    }
    return largest;
  }
}
