import type { Logger } from "../log/logger.ts";
import { ApiKey, ErrorCode, type ResponseOf, ZERO_UUID } from "../protocol/api.ts";
import type { AdminClient } from "./admin-client.ts";

export interface PhysicalTopic {
  readonly name: string;
  readonly id: string;
  readonly partitions: number;
}

/** The parts of a Metadata (or DescribeTopicPartitions) topic entry the directory reads. */
export interface TopicEntry {
  readonly errorCode: number;
  readonly name: string | null;
  readonly topicId?: string;
  readonly partitions: readonly unknown[];
}

type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;
type MetadataTopic = MetadataResponse["topics"][number];

/** Several upstream clusters behind the directory: each topic is looked up on, and learned from, its own. */
export interface TopicClusters {
  readonly clusters: readonly string[];
  clusterOfTopic(topic: string): string;
  /** Whether `topic` lives on `cluster` (false for a copy on a cluster it is not routed to). */
  owns(cluster: string, topic: string): boolean;
  anyNodeOf(cluster: string): number | undefined;
}

/**
 * Topics as the upstream cluster reports them: names, ids and partition counts. Learned from every Metadata
 * response that passes through, and looked up on demand, through the admin client, for names and ids the
 * proxy has not seen yet.
 */
export class TopicDirectory {
  private readonly byName = new Map<string, PhysicalTopic>();
  private readonly nameById = new Map<string, string>();
  private readonly admin: AdminClient;
  private readonly clusters: TopicClusters | undefined;
  private readonly log: Logger;
  private lookup: Promise<void> | undefined;
  private nextLookup: Promise<void> | undefined;
  private listing: { at: number; topics: readonly PhysicalTopic[] } | undefined;
  private pendingListing: Promise<readonly PhysicalTopic[]> | undefined;

  /** Without `clusters`, topics are looked up on the admin client's default cluster. */
  constructor(admin: AdminClient, log: Logger, clusters?: TopicClusters) {
    this.admin = admin;
    this.log = log;
    this.clusters = clusters && clusters.clusters.length > 1 ? clusters : undefined;
  }

  /**
   * Learns topics from a response. `complete` says whether each entry lists all of its topic's partitions
   * (Metadata does; a DescribeTopicPartitions page may not): a partial list teaches names and ids, never a
   * partition count.
   */
  learn(topics: Iterable<TopicEntry>, complete = true): void {
    for (const topic of topics) {
      if (topic.errorCode !== ErrorCode.NONE || !topic.name) continue;
      const known = this.byName.get(topic.name);
      const id = topic.topicId && topic.topicId !== ZERO_UUID ? topic.topicId : (known?.id ?? ZERO_UUID);
      if (!complete) {
        if (id !== ZERO_UUID && (!known || known.id === id)) this.nameById.set(id, topic.name);
        continue;
      }
      if (known && known.id !== id && known.id !== ZERO_UUID) this.nameById.delete(known.id);
      this.byName.set(topic.name, { name: topic.name, id, partitions: topic.partitions.length });
      if (id !== ZERO_UUID) this.nameById.set(id, topic.name);
    }
  }

  forget(name: string): void {
    const known = this.byName.get(name);
    if (!known) return;
    this.byName.delete(name);
    this.nameById.delete(known.id);
  }

  get(name: string): PhysicalTopic | undefined {
    return this.byName.get(name);
  }

  nameOf(id: string): string | undefined {
    return this.nameById.get(id);
  }

  idOf(name: string): string | undefined {
    const id = this.byName.get(name)?.id;
    return id && id !== ZERO_UUID ? id : undefined;
  }

  /** Looks topics up by name; resolves once the directory knows them or the cluster says they do not exist. */
  async refreshNames(names: string[]): Promise<void> {
    await this.query(names.map((name) => ({ topicId: ZERO_UUID, name })));
  }

  /**
   * Looks up topic ids the directory does not know yet. Lookups are coalesced, never skipped: every caller
   * waits for a lookup that started after it asked (at most one runs and one waits). Rejects when the lookup
   * fails; an id the cluster does not know resolves without a name.
   */
  async resolveIds(ids: string[]): Promise<void> {
    if (ids.every((id) => id === ZERO_UUID || this.nameById.has(id))) return;
    await this.lookUpAll();
  }

  private lookUpAll(): Promise<void> {
    if (!this.lookup) {
      this.lookup = this.query(null)
        .then(() => undefined)
        .finally(() => {
          this.lookup = undefined;
        });
      return this.lookup;
    }
    this.nextLookup ??= this.lookup
      .catch(() => undefined)
      .then(() => {
        this.nextLookup = undefined;
        return this.lookUpAll();
      });
    return this.nextLookup;
  }

  /**
   * Every topic of the cluster, from one Metadata request for all topics, kept for `maxAgeMs`. When a refresh
   * fails, the last listing is kept (and the failure logged); with none yet, the failure is thrown.
   */
  listAll(maxAgeMs: number): Promise<readonly PhysicalTopic[]> {
    const listing = this.listing;
    if (listing && Date.now() - listing.at < maxAgeMs) return Promise.resolve(listing.topics);
    this.pendingListing ??= this.query(null)
      .then((response) => {
        const topics: PhysicalTopic[] = [];
        for (const topic of response) {
          if (topic.errorCode === ErrorCode.NONE && topic.name) topics.push(this.byName.get(topic.name)!);
        }
        this.listing = { at: Date.now(), topics };
        return topics as readonly PhysicalTopic[];
      })
      .catch((error: Error) => {
        if (!this.listing) throw error;
        this.log.warn({ err: error.message }, "topic listing refresh failed; keeping the last one");
        return this.listing.topics;
      })
      .finally(() => {
        this.pendingListing = undefined;
      });
    return this.pendingListing;
  }

  private async query(topics: { topicId: string; name: string }[] | null): Promise<MetadataTopic[]> {
    try {
      const found = this.clusters
        ? await this.queryClusters(this.clusters, topics)
        : await this.describe(topics);
      this.learn(found);
      return found;
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "topic metadata lookup failed");
      throw error;
    }
  }

  private async describe(
    topics: { topicId: string; name: string }[] | null,
    nodeId?: number,
  ): Promise<MetadataTopic[]> {
    const response = await this.admin.request(
      ApiKey.Metadata,
      {
        topics,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      { nodeId },
    );
    return response.topics;
  }

  /**
   * Asks each cluster for the topics routed to it (every cluster for ids and for all topics), keeping each topic
   * only from its own cluster. What the clusters that answered said is learned even when another one failed.
   */
  private async queryClusters(
    clusters: TopicClusters,
    topics: { topicId: string; name: string }[] | null,
  ): Promise<MetadataTopic[]> {
    const asked = new Map<string, { topicId: string; name: string }[] | null>();
    if (topics === null || topics.some((topic) => topic.topicId !== ZERO_UUID)) {
      for (const cluster of clusters.clusters) asked.set(cluster, topics);
    } else {
      for (const topic of topics) {
        const cluster = clusters.clusterOfTopic(topic.name);
        const list = asked.get(cluster) ?? [];
        list.push(topic);
        asked.set(cluster, list);
      }
    }
    const outcomes = await Promise.allSettled(
      [...asked].map(async ([cluster, clusterTopics]) => {
        const nodeId = clusters.anyNodeOf(cluster);
        if (nodeId === undefined) throw new Error(`no broker of cluster ${cluster} is known yet`);
        const found = await this.describe(clusterTopics, nodeId);
        return found.filter((topic) => topic.name === null || clusters.owns(cluster, topic.name));
      }),
    );
    const found: MetadataTopic[] = [];
    let failure: Error | undefined;
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled") found.push(...outcome.value);
      else failure ??= outcome.reason as Error;
    }
    if (failure) {
      this.learn(found);
      throw failure;
    }
    return found;
  }
}
