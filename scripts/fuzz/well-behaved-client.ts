/**
 * A well-behaved KafkaJS client through the proxy: an idempotent producer writing at a steady rate to every
 * partition of its topics (plain and virtualized), and one consumer group member reading them all, checking
 * each record as it arrives. Every value names its topic, partition and a sequence number, so the check is
 * exact:
 *   - misrouted: a record delivered on another topic or partition than it was produced to, or not ours at all
 *     (a virtual partition's isolation broken, or fuzzer garbage reaching the client's topics);
 *   - duplicate: one produced record at two offsets;
 *   - out of order: a record delivered for the first time after a later one of its partition;
 *   - lost: an acknowledged record never delivered.
 * A record delivered again at the same offset after a rebalance is Kafka's at-least-once delivery, counted
 * apart ("redelivered"), not an error. Sends that fail after KafkaJS's retries and consumer crashes are errors.
 */
import type { Consumer, Kafka, Producer } from "kafkajs";
import kafkajs from "kafkajs";
import "../../test/helpers/kafkajs-request-queue.ts";
import { type Rng, seededRng } from "../../src/protocol/testing/random-message.ts";
import { kafkaClient } from "../../test/compat/kafkajs/client.ts";

export interface ClientTopic {
  name: string;
  partitions: number;
}

export interface WellBehavedOptions {
  bootstrap: string;
  topics: ClientTopic[];
  groupId: string;
  clientId: string;
  /** Records per second over all topics. */
  recordsPerSecond: number;
  /** Value sizes are drawn from [min, max] bytes. */
  valueBytes?: [number, number];
  seed: number;
  log?: (line: string) => void;
}

export interface PartitionTally {
  produced: number;
  consumed: number;
}

export interface ClientReport {
  /** Records acknowledged by the proxy. */
  produced: number;
  /** Distinct produced records delivered to the consumer. */
  consumed: number;
  redelivered: number;
  sends: number;
  rebalances: number;
  requestTimeouts: number;
  /** Failed sends, consumer crashes and every breach of the checks above, as sentences. */
  errors: string[];
  lost: number;
  duplicates: number;
  outOfOrder: number;
  misrouted: number;
  byTopic: Record<string, PartitionTally>;
}

interface PartitionState {
  /** Sequence numbers the producer saw acknowledged, in order. */
  acked: number[];
  /** Offset each sequence number was first delivered at. */
  delivered: Map<number, string>;
  lastNewSeq: number;
}

const MAX_ERRORS_KEPT = 50;

export class WellBehavedClient {
  readonly options: WellBehavedOptions;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly rng: Rng;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly errors: string[] = [];
  private errorCount = 0;
  private producing = false;
  private loop: Promise<void> | undefined;
  private nextSeq = 0;
  private cursor = 0;
  private sends = 0;
  private rebalances = 0;
  private requestTimeouts = 0;
  private redelivered = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private misrouted = 0;
  private readonly slots: { topic: string; partition: number }[] = [];

  constructor(options: WellBehavedOptions) {
    this.options = options;
    this.rng = seededRng(options.seed);
    this.kafka = kafkaClient(options.bootstrap, options.clientId);
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 250,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 3_000 },
    });
    for (const topic of options.topics) {
      for (let partition = 0; partition < topic.partitions; partition++) {
        this.slots.push({ topic: topic.name, partition });
        this.partitions.set(`${topic.name}/${partition}`, {
          acked: [],
          delivered: new Map(),
          lastNewSeq: -1,
        });
      }
    }
    this.producer.on(this.producer.events.REQUEST_TIMEOUT, () => this.requestTimeouts++);
    this.consumer.on(this.consumer.events.REQUEST_TIMEOUT, () => this.requestTimeouts++);
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.rebalances++);
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      this.error(
        `consumer crashed (restart: ${event.payload.restart}): ${event.payload.error?.message ?? event.payload.error}`,
      );
    });
  }

  /** Connects, joins the group and starts producing. */
  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    for (const topic of this.options.topics)
      await this.consumer.subscribe({ topic: topic.name, fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 1_000,
      eachMessage: async ({ topic, partition, message }) => {
        this.check(topic, partition, message.offset, message.value);
      },
    });
    this.producing = true;
    this.loop = this.produceLoop();
  }

  private async produceLoop(): Promise<void> {
    const tickMs = 100;
    let owed = 0;
    let next = performance.now();
    while (this.producing) {
      owed += (this.options.recordsPerSecond * tickMs) / 1000;
      const count = Math.floor(owed);
      owed -= count;
      if (count > 0) await this.sendSome(count);
      next += tickMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else next = performance.now();
    }
  }

  private async sendSome(count: number): Promise<void> {
    const [minBytes, maxBytes] = this.options.valueBytes ?? [20, 600];
    const byTopic = new Map<string, { partition: number; key: string; value: string; seq: number }[]>();
    for (let i = 0; i < count; i++) {
      const slot = this.slots[this.cursor++ % this.slots.length]!;
      const seq = this.nextSeq++;
      const head = `${seq}|${slot.topic}|${slot.partition}|`;
      const size = minBytes + Math.floor(this.rng() * (maxBytes - minBytes + 1));
      const value = head + "x".repeat(Math.max(0, size - head.length));
      const list = byTopic.get(slot.topic) ?? [];
      list.push({ partition: slot.partition, key: `k${seq % 7}`, value, seq });
      byTopic.set(slot.topic, list);
    }
    const gzip = this.rng() < 0.3;
    this.sends++;
    try {
      await this.producer.sendBatch({
        acks: -1,
        compression: gzip ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({
          topic,
          messages: messages.map((m) => ({
            partition: m.partition,
            key: m.key,
            value: m.value,
            headers: { origin: "kpp-well-behaved" },
          })),
        })),
      });
      for (const [topic, messages] of byTopic) {
        for (const m of messages) this.partitions.get(`${topic}/${m.partition}`)!.acked.push(m.seq);
      }
    } catch (error) {
      this.error(`send of ${count} record(s) failed: ${(error as Error).message}`);
    }
  }

  private check(topic: string, partition: number, offset: string, value: Buffer | null): void {
    const text = value?.toString() ?? "";
    const [seqText, producedTopic, producedPartition] = text.split("|", 3);
    const seq = Number(seqText);
    const state = this.partitions.get(`${topic}/${partition}`);
    if (
      !state ||
      !Number.isInteger(seq) ||
      producedTopic !== topic ||
      Number(producedPartition) !== partition ||
      seq >= this.nextSeq
    ) {
      this.misrouted++;
      this.error(
        `misrouted: ${topic}[${partition}] offset ${offset} holds ${JSON.stringify(text.slice(0, 80))}`,
      );
      return;
    }
    const seen = state.delivered.get(seq);
    if (seen !== undefined) {
      if (seen === offset) this.redelivered++;
      else {
        this.duplicates++;
        this.error(`duplicate: ${topic}[${partition}] record ${seq} at offsets ${seen} and ${offset}`);
      }
      return;
    }
    state.delivered.set(seq, offset);
    if (seq < state.lastNewSeq) {
      this.outOfOrder++;
      this.error(
        `out of order: ${topic}[${partition}] record ${seq} (offset ${offset}) after record ${state.lastNewSeq}`,
      );
    } else state.lastNewSeq = seq;
  }

  private error(message: string): void {
    this.errorCount++;
    if (this.errors.length < MAX_ERRORS_KEPT) this.errors.push(message);
    this.options.log?.(`client error: ${message}`);
  }

  /** Stops producing; resolves once the last send has been answered. */
  async stopProducing(): Promise<void> {
    this.producing = false;
    await this.loop;
  }

  /** Whether every acknowledged record has been delivered. */
  caughtUp(): boolean {
    for (const state of this.partitions.values()) {
      for (const seq of state.acked) if (!state.delivered.has(seq)) return false;
    }
    return true;
  }

  /** Waits until every acknowledged record has been delivered, or the time is up; returns whether it was. */
  async waitForAll(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.caughtUp()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return true;
  }

  get produced(): number {
    let sum = 0;
    for (const state of this.partitions.values()) sum += state.acked.length;
    return sum;
  }

  get consumed(): number {
    let sum = 0;
    for (const state of this.partitions.values()) sum += state.delivered.size;
    return sum;
  }

  /** The tally so far; acknowledged records not delivered yet count as lost. */
  report(): ClientReport {
    const byTopic: Record<string, PartitionTally> = {};
    let lost = 0;
    const lostExamples: string[] = [];
    for (const [key, state] of this.partitions) {
      const topic = key.slice(0, key.lastIndexOf("/"));
      const tally = (byTopic[topic] ??= { produced: 0, consumed: 0 });
      tally.produced += state.acked.length;
      tally.consumed += state.delivered.size;
      for (const seq of state.acked) {
        if (!state.delivered.has(seq)) {
          lost++;
          if (lostExamples.length < 5) lostExamples.push(`${key} record ${seq}`);
        }
      }
    }
    const errors = [...this.errors];
    if (this.errorCount > this.errors.length)
      errors.push(`... and ${this.errorCount - this.errors.length} more`);
    if (lost > 0)
      errors.push(`lost: ${lost} acknowledged record(s) never delivered, e.g. ${lostExamples.join(", ")}`);
    return {
      produced: this.produced,
      consumed: this.consumed,
      redelivered: this.redelivered,
      sends: this.sends,
      rebalances: this.rebalances,
      requestTimeouts: this.requestTimeouts,
      errors,
      lost,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      misrouted: this.misrouted,
      byTopic,
    };
  }

  async stop(): Promise<void> {
    this.producing = false;
    await this.loop;
    await this.producer.disconnect().catch(() => {});
    await this.consumer.disconnect().catch(() => {});
  }
}
