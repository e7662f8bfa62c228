import type { RoutingRule, RoutingSettings } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";

const CACHE_LIMIT = 100_000;
const MISPLACED_LOG_LIMIT = 10_000;

/** Answers by name through the first matching rule, else the default; answers are cached. */
class RuleTable {
  private readonly rules: readonly RoutingRule[];
  private readonly fallback: string;
  private readonly cache = new Map<string, string>();

  constructor(rules: readonly RoutingRule[], fallback: string) {
    this.rules = rules;
    this.fallback = fallback;
  }

  clusterOf(name: string): string {
    if (this.rules.length === 0) return this.fallback;
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const cluster = this.rules.find((rule) => rule.pattern.test(name))?.cluster ?? this.fallback;
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(name, cluster);
    return cluster;
  }
}

/**
 * Which upstream cluster each topic lives on, and which cluster is home to each consumer group and transactional
 * id (where its coordinator is). A pure function of the config: every proxy instance answers the same.
 */
export class ClusterRouting {
  readonly clusters: readonly string[];
  readonly defaultCluster: string;
  private topics: RuleTable;
  private readonly groups: RuleTable;
  private readonly transactionalIds: RuleTable;
  private readonly misplaced = new Set<string>();
  private readonly log: Logger;

  constructor(clusters: readonly string[], settings: RoutingSettings, log: Logger) {
    this.clusters = clusters;
    this.defaultCluster = settings.defaultCluster;
    this.topics = new RuleTable(settings.topics, settings.defaultCluster);
    this.groups = new RuleTable(settings.groups, settings.defaultCluster);
    this.transactionalIds = new RuleTable(settings.transactionalIds, settings.defaultCluster);
    this.log = log;
  }

  /** Takes reloaded topic rules (a reload has checked that no existing topic changes cluster). */
  replaceTopicRules(rules: readonly RoutingRule[]): void {
    this.topics = new RuleTable(rules, this.defaultCluster);
    this.misplaced.clear();
  }

  get isSingleCluster(): boolean {
    return this.clusters.length === 1;
  }

  /** The cluster a topic lives on. */
  clusterOfTopic(topic: string): string {
    return this.topics.clusterOf(topic);
  }

  /** The cluster where a consumer group's coordinator and membership live. */
  homeOfGroup(group: string): string {
    return this.groups.clusterOf(group);
  }

  /** The cluster whose transaction coordinator serves a transactional id. */
  homeOfTransactionalId(transactionalId: string): string {
    return this.transactionalIds.clusterOf(transactionalId);
  }

  /**
   * Whether `cluster` is where `topic` lives. A topic that also exists on another cluster stays invisible there;
   * the first sighting is logged.
   */
  owns(cluster: string, topic: string): boolean {
    const home = this.clusterOfTopic(topic);
    if (home === cluster) return true;
    const key = `${cluster}\u0000${topic}`;
    if (!this.misplaced.has(key) && this.misplaced.size < MISPLACED_LOG_LIMIT) {
      this.misplaced.add(key);
      this.log.warn(
        { topic, cluster, routedTo: home },
        "topic exists on a cluster it is not routed to; it stays invisible there",
      );
    }
    return false;
  }
}
