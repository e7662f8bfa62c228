import type { KafkaVersion } from "../../../scripts/kafka/cluster.ts";
import { type Gateway, runTool } from "../gateway/environment.ts";

/** Kafka 4.x renamed the console tools' property flags; 3.9 only knows the old names. */
function flags(version: KafkaVersion) {
  return version === "3.9"
    ? {
        producer: "--producer-property",
        reader: "--property",
        consumer: "--consumer-property",
        formatter: "--property",
      }
    : {
        producer: "--command-property",
        reader: "--reader-property",
        consumer: "--command-property",
        formatter: "--formatter-property",
      };
}

function repeat(flag: string, properties: Record<string, string>): string[] {
  return Object.entries(properties).flatMap(([key, value]) => [flag, `${key}=${value}`]);
}

export interface KeyedRecord {
  key: string;
  value: string;
}

/** Produces `key:value` lines with kafka-console-producer; `producerProperties` go to the Java producer. */
export async function consoleProduce(
  gateway: Gateway,
  topic: string,
  records: KeyedRecord[],
  producerProperties: Record<string, string> = {},
): Promise<void> {
  const f = flags(gateway.version);
  await runTool(
    gateway,
    "kafka-console-producer",
    [
      "--topic",
      topic,
      ...repeat(f.reader, { "parse.key": "true", "key.separator": ":" }),
      ...repeat(f.producer, {
        acks: "all",
        "enable.idempotence": "true",
        "linger.ms": "5",
        ...producerProperties,
      }),
    ],
    { input: `${records.map((r) => `${r.key}:${r.value}`).join("\n")}\n` },
  );
}

export interface ConsumeOptions {
  group?: string;
  maxMessages?: number;
  /** Exit after this long without a record. */
  idleTimeoutMs?: number;
  fromBeginning?: boolean;
  isolationLevel?: "read_committed" | "read_uncommitted";
  consumerProperties?: Record<string, string>;
  toolTimeoutMs?: number;
}

export interface ConsumedRecord extends KeyedRecord {
  partition: number;
  offset: number;
}

/** Runs kafka-console-consumer until it has `maxMessages` records or idles out; returns what it printed. */
export async function consoleConsume(
  gateway: Gateway,
  topic: string,
  options: ConsumeOptions = {},
): Promise<ConsumedRecord[]> {
  const f = flags(gateway.version);
  const args = [
    "--topic",
    topic,
    ...(options.group ? ["--group", options.group] : []),
    ...(options.fromBeginning === false ? [] : ["--from-beginning"]),
    ...(options.maxMessages !== undefined ? ["--max-messages", String(options.maxMessages)] : []),
    "--timeout-ms",
    String(options.idleTimeoutMs ?? 20_000),
    ...(options.isolationLevel ? ["--isolation-level", options.isolationLevel] : []),
    ...repeat(f.formatter, {
      "print.key": "true",
      "print.partition": "true",
      "print.offset": "true",
      "key.separator": "|",
    }),
    ...repeat(f.consumer, options.consumerProperties ?? {}),
  ];
  // The console consumer exits 0 after --max-messages and 1 after the idle timeout; both are fine here.
  const result = await gateway.tool("kafka-console-consumer", args, {
    timeoutMs: options.toolTimeoutMs ?? 90_000,
  });
  if (
    result.timedOut ||
    (result.exitCode !== 0 && !/TimeoutException|Processed a total/.test(result.stderr))
  ) {
    throw new Error(`kafka-console-consumer failed (${result.exitCode}):\n${result.stderr.slice(-3000)}`);
  }
  return parseConsoleRecords(result.stdout);
}

/** Lines look like `Partition:1|Offset:5|key|value` (the default formatter's order). */
export function parseConsoleRecords(stdout: string): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  for (const line of stdout.split("\n")) {
    const match = /^Partition:(\d+)\|Offset:(\d+)\|([^|]*)\|(.*)$/.exec(line);
    if (match) {
      records.push({
        partition: Number(match[1]),
        offset: Number(match[2]),
        key: match[3]!,
        value: match[4]!,
      });
    }
  }
  return records;
}

/** Parses the whitespace-aligned tables printed by kafka-consumer-groups and kafka-topics. */
export function parseTable(text: string, firstColumn: string): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  let header: string[] | undefined;
  for (const line of text.split("\n")) {
    const cells = line.trim().split(/\s+/);
    if (cells[0] === firstColumn) {
      header = cells;
      continue;
    }
    if (!header || cells.length < header.length || line.trim() === "") continue;
    rows.push(Object.fromEntries(header.map((name, i) => [name, cells[i]!])));
  }
  return rows;
}

export interface GroupPartitionRow {
  topic: string;
  partition: number;
  currentOffset: number | undefined;
  logEndOffset: number;
  lag: number | undefined;
}

export async function describeGroupOffsets(gateway: Gateway, group: string): Promise<GroupPartitionRow[]> {
  const result = await runTool(gateway, "kafka-consumer-groups", ["--describe", "--group", group]);
  return parseTable(result.stdout, "GROUP").map((row) => ({
    topic: row.TOPIC!,
    partition: Number(row.PARTITION),
    currentOffset: row["CURRENT-OFFSET"] === "-" ? undefined : Number(row["CURRENT-OFFSET"]),
    logEndOffset: Number(row["LOG-END-OFFSET"]),
    lag: row.LAG === "-" ? undefined : Number(row.LAG),
  }));
}

export interface GroupMemberRow {
  consumerId: string;
  partitions: number;
  assignment: string;
}

export async function describeGroupMembers(gateway: Gateway, group: string): Promise<GroupMemberRow[]> {
  const result = await gateway.tool(
    "kafka-consumer-groups",
    ["--describe", "--members", "--verbose", "--group", group],
    {
      timeoutMs: 60_000,
    },
  );
  return parseTable(result.stdout, "GROUP").map((row) => ({
    consumerId: row["CONSUMER-ID"]!,
    partitions: Number(row["#PARTITIONS"]),
    assignment: row.ASSIGNMENT ?? "",
  }));
}
