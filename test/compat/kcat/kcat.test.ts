import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { kcat as kcatExecutable } from "../../helpers/clients.ts";
import { type Gateway, runTool, startGateway } from "../gateway/environment.ts";
import { assertProxyAddress } from "../json-driver/suite.ts";

const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
const PER_CODEC = 10;
const PARTITIONS = 3;
const KEYS = 13;

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  payload: string;
}

interface KcatMetadata {
  brokers: { id: number; name: string }[];
  topics: { topic: string; partitions: { partition: number; leader: number }[]; error?: string }[];
}

/** Runs Debian's kcat, linked against the system librdkafka (an older librdkafka than the PyPI wheel's). */
function kcat(args: string[], input?: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(kcatExecutable(), args, {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`kcat ${args.join(" ")} exited ${code ?? signal}\n${stderr.slice(-4000)}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

function jsonLines<T>(text: string): T[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as T);
}

const id = (m: { partition: number; offset: number }) => `${m.partition}@${m.offset}`;

interface GroupRow {
  partition: number;
  current: number | undefined;
  end: number;
  lag: number | undefined;
}

/** `kafka-consumer-groups --describe` through the proxy, parsed by its header row. */
async function describeGroup(gateway: Gateway, group: string): Promise<GroupRow[]> {
  const { stdout } = await runTool(gateway, "kafka-consumer-groups", ["--describe", "--group", group]);
  const lines = stdout.split("\n").filter((line) => line.trim() !== "");
  const headerIndex = lines.findIndex((line) => /^GROUP\s+TOPIC\s+PARTITION/.test(line));
  assert.ok(headerIndex >= 0, `kafka-consumer-groups output has a header:\n${stdout}`);
  const header = lines[headerIndex]!.trim().split(/\s+/);
  const column = (cells: string[], name: string) => cells[header.indexOf(name)]!;
  const number = (cell: string) => (cell === "-" ? undefined : Number(cell));
  return lines.slice(headerIndex + 1).map((line) => {
    const cells = line.trim().split(/\s+/);
    return {
      partition: Number(column(cells, "PARTITION")),
      current: number(column(cells, "CURRENT-OFFSET")),
      end: Number(column(cells, "LOG-END-OFFSET")),
      lag: number(column(cells, "LAG")),
    };
  });
}

describe("kcat (librdkafka 2.0) through the proxy (Kafka 4.4, 3 brokers)", { timeout: 240_000 }, () => {
  let gateway: Gateway;
  let topic: string;
  const produced: KcatMessage[] = [];

  before(async () => {
    kcatExecutable();
    gateway = await startGateway({ brokers: 3 });
    topic = gateway.uniqueName("kcat");
  });

  after(async () => {
    await gateway?.close();
  });

  it("creates a topic with kafka-topics through the proxy", async () => {
    await runTool(gateway, "kafka-topics", [
      "--create",
      "--topic",
      topic,
      "--partitions",
      String(PARTITIONS),
      "--replication-factor",
      "3",
    ]);
  });

  it("lists only the proxy's broker addresses (kcat -L)", async () => {
    const metadata = JSON.parse(
      await kcat(["-L", "-J", "-b", gateway.bootstrap, "-t", topic]),
    ) as KcatMetadata;
    assert.equal(metadata.brokers.length, 3);
    for (const broker of metadata.brokers) {
      const [host, port] = broker.name.split(":");
      assertProxyAddress(gateway, { id: broker.id, host: host!, port: Number(port) }, `broker ${broker.id}`);
    }
    const described = metadata.topics.find((t) => t.topic === topic);
    assert.ok(described, "topic listed");
    assert.equal(described.partitions.length, PARTITIONS);
  });

  it("produces keyed records with every codec (-z) and consumes them back from the beginning", async () => {
    for (const [index, codec] of CODECS.entries()) {
      const lines = Array.from({ length: PER_CODEC }, (_, i) => {
        const n = index * PER_CODEC + i;
        return `key-${n % KEYS}:${codec}-${n}\n`;
      });
      await kcat(
        [
          "-P",
          "-b",
          gateway.bootstrap,
          "-t",
          topic,
          "-K",
          ":",
          "-z",
          codec,
          "-X",
          "acks=all",
          "-X",
          "enable.idempotence=true",
        ],
        lines.join(""),
      );
    }
    const consumed = jsonLines<KcatMessage>(
      await kcat(["-C", "-J", "-q", "-b", gateway.bootstrap, "-t", topic, "-o", "beginning", "-e"]),
    );
    const expected = CODECS.flatMap((codec, index) =>
      Array.from({ length: PER_CODEC }, (_, i) => `${codec}-${index * PER_CODEC + i}`),
    );
    assert.deepEqual(consumed.map((m) => m.payload).sort(), expected.sort());
    const partitionOfKey = new Map<string, number>();
    for (const message of consumed) {
      assert.equal(message.key, `key-${Number(message.payload.split("-")[1]) % KEYS}`);
      assert.equal(
        partitionOfKey.get(message.key) ?? message.partition,
        message.partition,
        `${message.key} on one partition`,
      );
      partitionOfKey.set(message.key, message.partition);
    }
    assert.equal(new Set(consumed.map(id)).size, consumed.length, "each offset once");
    produced.push(...consumed);
  });

  it("consumes in a consumer group (-G), commits and resumes where it left off", async () => {
    const group = gateway.uniqueName("kcat-group");
    const firstCount = 30;
    // `-o beginning` with -G would override the committed offsets; auto.offset.reset applies only without them.
    const groupConsume = (count: number) =>
      kcat(
        [
          "-J",
          "-q",
          "-b",
          gateway.bootstrap,
          "-G",
          group,
          "-X",
          "auto.offset.reset=earliest",
          "-c",
          String(count),
          topic,
        ],
        undefined,
        60_000,
      );
    const first = jsonLines<KcatMessage>(await groupConsume(firstCount));
    assert.equal(first.length, firstCount);

    const rows = await describeGroup(gateway, group);
    const ends = new Map<number, number>();
    for (const m of produced) ends.set(m.partition, Math.max(ends.get(m.partition) ?? 0, m.offset + 1));
    const consumedUpTo = new Map<number, number>();
    for (const m of first)
      consumedUpTo.set(m.partition, Math.max(consumedUpTo.get(m.partition) ?? 0, m.offset + 1));
    assert.deepEqual(
      rows.map((row) => row.partition).sort(),
      [...consumedUpTo.keys()].sort(),
      "one row per partition the group committed",
    );
    for (const row of rows) {
      assert.equal(row.end, ends.get(row.partition) ?? 0, `log end offset of ${row.partition}`);
      assert.equal(row.current, consumedUpTo.get(row.partition), `committed offset of ${row.partition}`);
      if (row.current !== undefined) assert.equal(row.lag, row.end - row.current, `lag of ${row.partition}`);
    }

    const rest = produced.length - firstCount;
    const second = jsonLines<KcatMessage>(await groupConsume(rest));
    const firstIds = new Set(first.map(id));
    assert.deepEqual(
      second.filter((m) => firstIds.has(id(m))),
      [],
      "no committed record delivered again",
    );
    assert.deepEqual([...first, ...second].map(id).sort(), produced.map(id).sort(), "nothing lost");

    const caughtUp = await describeGroup(gateway, group);
    for (const row of caughtUp) {
      if (row.end > 0) assert.equal(row.lag, 0, `partition ${row.partition} caught up`);
    }
  });

  it("deletes the topic with kafka-topics through the proxy", async () => {
    await runTool(gateway, "kafka-topics", ["--delete", "--topic", topic]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const metadata = JSON.parse(await kcat(["-L", "-J", "-b", gateway.bootstrap])) as KcatMetadata;
      if (!metadata.topics.some((t) => t.topic === topic)) break;
      assert.ok(Date.now() < deadline, "topic disappears from kcat -L");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
});
