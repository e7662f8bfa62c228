import type { Logger } from "../../log/logger.ts";

export interface PhysicalTopic {
  readonly name: string;
  readonly id: string;
  readonly partitions: number;
}

const ZERO_UUID = "0".repeat(32);
const METADATA = 3;
const METADATA_VERSION = 12;
const FULL_LOOKUP_INTERVAL_MS = 1000;

export type MetadataSource = (apiKey: number, apiVersion: number, body: unknown) => Promise<unknown>;

interface MetadataTopic {
  errorCode: number;
  name: string | null;
  topicId?: string;
  partitions: unknown[];
}

/**
 * Physical topics as the upstream cluster reports them: names, ids and partition counts. Learned from every
 * Metadata response that passes through, and looked up on demand for ids the proxy has not seen yet.
 */
export class TopicIndex {
  private readonly byName = new Map<string, PhysicalTopic>();
  private readonly nameById = new Map<string, string>();
  private readonly source: MetadataSource;
  private readonly log: Logger;
  private pendingLookup: Promise<void> | undefined;
  private lastFullLookupAt = 0;

  constructor(source: MetadataSource, log: Logger) {
    this.source = source;
    this.log = log;
  }

  learn(topics: Iterable<MetadataTopic>): void {
    for (const topic of topics) {
      if (topic.errorCode !== 0 || !topic.name) continue;
      const id =
        topic.topicId && topic.topicId !== ZERO_UUID
          ? topic.topicId
          : (this.byName.get(topic.name)?.id ?? ZERO_UUID);
      const known = this.byName.get(topic.name);
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

  /** Looks up topics by name (physical view); resolves once the index knows them or the cluster says no. */
  async refreshNames(names: string[]): Promise<void> {
    await this.query(names.map((name) => ({ topicId: ZERO_UUID, name })));
  }

  /** Looks up topic ids the index does not know yet. */
  async resolveIds(ids: string[]): Promise<void> {
    const missing = ids.filter((id) => id !== ZERO_UUID && !this.nameById.has(id));
    if (missing.length === 0) return;
    if (!this.pendingLookup && Date.now() - this.lastFullLookupAt > FULL_LOOKUP_INTERVAL_MS) {
      this.lastFullLookupAt = Date.now();
      this.pendingLookup = this.query(null).finally(() => {
        this.pendingLookup = undefined;
      });
    }
    await this.pendingLookup;
  }

  private async query(topics: { topicId: string; name: string }[] | null): Promise<void> {
    try {
      const body = (await this.source(METADATA, METADATA_VERSION, {
        topics,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      })) as { topics: MetadataTopic[] };
      this.learn(body.topics);
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "topic metadata lookup failed");
      throw error;
    }
  }
}
