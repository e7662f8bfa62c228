import kafkajs, { type Consumer, type ConsumerConfig, type EachMessagePayload, type Kafka } from "kafkajs";
import { eventually } from "../gateway/environment.ts";

const { Kafka: KafkaClient, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

export function kafkaClient(bootstrap: string, clientId: string): Kafka {
  return new KafkaClient({
    clientId,
    brokers: bootstrap.split(","),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 20_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
}

export interface ReceivedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
  member: string;
}

/** Consumer settings that keep group rebalances quick on a test cluster. */
export function fastGroup(groupId: string): ConsumerConfig {
  return {
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  };
}

/**
 * A KafkaJS group member that records every message it sees and its current assignment
 * (from the GROUP_JOIN instrumentation event).
 */
export class GroupMember {
  readonly name: string;
  readonly consumer: Consumer;
  readonly received: ReceivedRecord[] = [];
  assignment: number[] = [];
  readonly assignments: number[][] = [];
  /** Crashes KafkaJS recovered from by restarting the consumer. */
  crashes = 0;
  private crashed: Error | undefined;

  constructor(kafka: Kafka, name: string, config: ConsumerConfig) {
    this.name = name;
    this.consumer = kafka.consumer(config);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const partitions = Object.values(event.payload.memberAssignment).flat();
      this.assignment = [...partitions].sort((a, b) => a - b);
      this.assignments.push(this.assignment);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      this.crashes++;
      if (!event.payload.restart) this.crashed = event.payload.error;
    });
  }

  async start(
    topic: string,
    options: { autoCommit?: boolean; onMessage?: (payload: EachMessagePayload) => Promise<void> } = {},
  ): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: options.autoCommit ?? true,
      autoCommitInterval: 500,
      eachMessage: async (payload) => {
        const { message, partition } = payload;
        this.received.push({
          topic: payload.topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? "",
          value: message.value?.toString() ?? "",
          member: this.name,
        });
        await options.onMessage?.(payload);
      },
    });
  }

  /** Waits until this member has received at least `count` records. */
  async waitForCount(count: number, timeoutMs = 30_000): Promise<void> {
    await eventually(
      `${this.name} to receive ${count} records (has ${this.received.length})`,
      () => {
        if (this.crashed) throw this.crashed;
        return this.received.length >= count ? true : undefined;
      },
      timeoutMs,
    );
  }

  async waitForAssignment(
    what: string,
    accept: (partitions: number[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<number[]> {
    return eventually(
      `${this.name}: ${what} (assignment now ${JSON.stringify(this.assignment)})`,
      () => {
        if (this.crashed) throw this.crashed;
        return accept(this.assignment) ? this.assignment : undefined;
      },
      timeoutMs,
    );
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

export function recordsByPartition(records: ReceivedRecord[]): Map<number, ReceivedRecord[]> {
  const byPartition = new Map<number, ReceivedRecord[]>();
  for (const record of records) {
    const list = byPartition.get(record.partition) ?? [];
    list.push(record);
    byPartition.set(record.partition, list);
  }
  return byPartition;
}
