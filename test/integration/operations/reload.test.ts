/**
 * Safe reload against a real broker, with a KafkaJS producer writing through the proxy the whole time (to a
 * virtualized topic and a plain one): a log-level change on SIGHUP (debug lines appear, then disappear), a new
 * virtualization rule taken from a changed file (a topic created afterwards gets its virtual partitions), a
 * refused unsafe change (the layout of a topic holding records: the log says why, the old mapping serves on, the
 * rest of the file applies) and a file that does not validate (the running config stays, the log names the
 * field). The producer sees no error, and every record it was acknowledged is stored.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { parse, stringify } from "yaml";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";

const HELD_RULE = { virtual_partitions: 8, physical_partitions: 2 };
const FRESH_RULE = { virtual_partitions: 6, physical_partitions: 2 };
const WAIT_MS = 20_000;
/** Secrets in the config, before and after a reload: neither may reach the log. */
const ADMIN_TOKENS = ["reload-admin-token-before-0001", "reload-admin-token-after-00002"];

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const DEBUG = 20;

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
const suffix = `${process.pid}-${Date.now()}`;
const held = `held-${suffix}`;
const plain = `plain-${suffix}`;
const fresh = `fresh-${suffix}`;

/** What the producer was acknowledged, per topic, and every error it saw (thrown or logged by KafkaJS). */
const acknowledged = new Map<string, number>([
  [held, 0],
  [plain, 0],
]);
const producerErrors: string[] = [];
let producing = true;
let producerLoop: Promise<void> | undefined;

function direct(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: cluster.bootstrap.split(","), logLevel: logLevel.NOTHING });
}

function throughProxy(clientId: string, onError?: (message: string) => void): Kafka {
  return new Kafka({
    clientId,
    brokers: [proxy.bootstrap],
    logLevel: logLevel.ERROR,
    logCreator: () => (entry) => {
      if (entry.level <= logLevel.ERROR) onError?.(`${entry.namespace}: ${entry.log.message}`);
    },
  });
}

function logLines(): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of proxy.logs().split("\n")) {
    if (!text.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // a line cut by the output cap
    }
  }
  return lines;
}

async function waitForLine(from: number, what: string, match: (line: LogLine) => boolean): Promise<LogLine> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const found = logLines().slice(from).find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `no log line ${what} within ${WAIT_MS} ms; the proxy logged:\n${proxy.logs().slice(-4000)}`,
  );
}

/** The proxy's config file as it runs now, changed by `edit` and written back. */
interface EditableConfig {
  logging: { level: string };
  admin: { token: string };
  listen: Record<string, unknown>;
  mapping: { topics: Record<string, unknown> };
}

function rewriteConfig(edit: (config: EditableConfig) => void): void {
  const config = parse(readFileSync(proxy.configFile, "utf8")) as EditableConfig;
  edit(config);
  writeFileSync(proxy.configFile, stringify(config));
}

/** Connects a new client through the proxy and asks for metadata: a connection whose first request is logged. */
async function partitionsThroughProxy(clientId: string, topic: string): Promise<number> {
  const admin = throughProxy(clientId).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

async function acknowledgedWhile<T>(step: () => Promise<T>): Promise<T> {
  const before = acknowledged.get(held)! + acknowledged.get(plain)!;
  const result = await step();
  const deadline = Date.now() + WAIT_MS;
  while (acknowledged.get(held)! + acknowledged.get(plain)! <= before + 10 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(
    acknowledged.get(held)! + acknowledged.get(plain)! > before + 10,
    `the producer kept being acknowledged (errors: ${producerErrors.join("; ")})`,
  );
  return result;
}

async function produce(producer: Producer): Promise<void> {
  let sequence = 0;
  while (producing) {
    for (const topic of [held, plain]) {
      const messages = Array.from({ length: 5 }, () => ({
        key: `k${sequence % 16}`,
        value: `${topic}-${sequence++}`,
      }));
      try {
        await producer.send({ topic, acks: -1, messages });
        acknowledged.set(topic, acknowledged.get(topic)! + messages.length);
      } catch (error) {
        producerErrors.push(`${topic}: ${(error as Error).message}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("reload while a producer runs", { timeout: 180_000 }, () => {
  let producer: Producer;

  before(async () => {
    cluster = await useKafkaCluster();
    const admin = direct("reload-setup").admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: held, numPartitions: HELD_RULE.physical_partitions },
        { topic: plain, numPartitions: 3 },
      ],
    });
    await admin.disconnect();
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { mapping: { topics: { "held-.*": HELD_RULE } }, admin: { token: ADMIN_TOKENS[0] } },
    });
    producer = throughProxy("reload-producer", (message) => producerErrors.push(message)).producer({
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    producerLoop = produce(producer);
  });

  after(async () => {
    producing = false;
    await producerLoop;
    await producer?.disconnect();
    await proxy?.stop();
  });

  test("SIGHUP: the log level changes at run time and debug lines appear", async () => {
    assert.equal(await partitionsThroughProxy("before-debug", held), HELD_RULE.virtual_partitions);
    assert.ok(!logLines().some((line) => line.level === DEBUG), "no debug line at the configured level info");
    const mark = logLines().length;
    await acknowledgedWhile(async () => {
      rewriteConfig((config) => {
        config.logging.level = "debug";
        config.admin.token = ADMIN_TOKENS[1];
      });
      proxy.process.kill("SIGHUP");
      await waitForLine(
        mark,
        "reloading on SIGHUP",
        (l) => l.msg === "reloading the config file" && l.trigger === "SIGHUP",
      );
      const reloaded = await waitForLine(mark, "reloaded", (l) => l.msg === "config file reloaded");
      assert.deepEqual([...(reloaded.applied as string[])].sort(), ["admin.token", "logging.level"]);
    });
    const connected = logLines().length;
    await partitionsThroughProxy("while-debug", held);
    const first = await waitForLine(
      connected,
      "a debug line for the new connection",
      (l) => l.level === DEBUG && l.clientId === "while-debug",
    );
    assert.equal(first.msg, "client's first request");
  });

  test("file change: a new virtualization rule applies to a topic created afterwards", async () => {
    const mark = logLines().length;
    await acknowledgedWhile(async () => {
      rewriteConfig((config) => {
        config.mapping.topics["fresh-.*"] = FRESH_RULE;
      });
      await waitForLine(mark, "reloading on the file change", (l) => l.trigger === "file changed");
      const reloaded = await waitForLine(
        mark,
        "the new rule applied",
        (l) =>
          l.msg === "config file reloaded" && (l.applied as string[]).includes("mapping.topics.fresh-.*"),
      );
      assert.equal(reloaded.refused, undefined);
    });
    const admin = throughProxy("reload-admin").admin();
    await admin.connect();
    try {
      assert.equal(
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: fresh, numPartitions: FRESH_RULE.virtual_partitions }],
        }),
        true,
      );
    } finally {
      await admin.disconnect();
    }
    assert.equal(await partitionsThroughProxy("fresh-check", fresh), FRESH_RULE.virtual_partitions);
    const physical = direct("fresh-direct").admin();
    await physical.connect();
    const metadata = await physical.fetchTopicMetadata({ topics: [fresh] });
    await physical.disconnect();
    assert.equal(metadata.topics[0]!.partitions.length, FRESH_RULE.physical_partitions);
    const writer = throughProxy("fresh-writer").producer({ allowAutoTopicCreation: false });
    await writer.connect();
    const sent = await writer.send({
      topic: fresh,
      acks: -1,
      messages: [{ value: "on the last virtual partition", partition: FRESH_RULE.virtual_partitions - 1 }],
    });
    await writer.disconnect();
    assert.equal(sent[0]!.partition, FRESH_RULE.virtual_partitions - 1);
  });

  test("SIGHUP: moving the data of a topic that holds records is refused; the rest of the file applies", async () => {
    const mark = logLines().length;
    await acknowledgedWhile(async () => {
      rewriteConfig((config) => {
        config.logging.level = "info";
        config.mapping.topics["held-.*"] = { virtual_partitions: 16, physical_partitions: 2 };
      });
      proxy.process.kill("SIGHUP");
      const refused = await waitForLine(
        mark,
        "the refusal",
        (l) => l.msg.startsWith("config reloaded with changes refused") && l.level === 40,
      );
      assert.match(
        refused.msg,
        new RegExp(
          `topic ${held} holds records: its layout would change from 8 virtual partitions over 2 to 16`,
        ),
      );
      assert.deepEqual(refused.applied, ["logging.level"]);
      assert.deepEqual((refused.refused as { paths: string[] }[])[0]!.paths, [
        "mapping.topics.held-.*.virtual_partitions",
      ]);
    });
    assert.equal(
      await partitionsThroughProxy("after-refusal", held),
      HELD_RULE.virtual_partitions,
      "the old mapping serves",
    );
    const connected = logLines().length;
    await partitionsThroughProxy("after-info", held);
    await waitForLine(
      connected,
      "the new connection's close line",
      (l) => l.msg === "client connection closed" && l.clientId === "after-info",
    );
    assert.ok(
      !logLines()
        .slice(connected)
        .some((l) => l.level === DEBUG),
      "no debug line once the level is info again",
    );
  });

  test("file change: a file that does not validate keeps the running config, and the log names the field", async () => {
    const mark = logLines().length;
    await acknowledgedWhile(async () => {
      rewriteConfig((config) => {
        config.logging.level = "debug";
        config.listen.max_connections = -5;
      });
      const invalid = await waitForLine(mark, "the validation failure", (l) =>
        l.msg.startsWith("config file does not validate"),
      );
      assert.equal(invalid.trigger, "file changed");
      assert.ok(
        (invalid.problems as string[]).some((p) => p.startsWith("listen.max_connections:")),
        `the problem names the field: ${JSON.stringify(invalid.problems)}`,
      );
    });
    const connected = logLines().length;
    await partitionsThroughProxy("after-invalid", held);
    await waitForLine(
      connected,
      "the close line",
      (l) => l.msg === "client connection closed" && l.clientId === "after-invalid",
    );
    assert.ok(
      !logLines()
        .slice(connected)
        .some((l) => l.level === DEBUG),
      "the level of the invalid file was not taken",
    );
    assert.equal(await partitionsThroughProxy("after-invalid-2", held), HELD_RULE.virtual_partitions);
  });

  test("the producer saw no error, and every acknowledged record is stored", async () => {
    producing = false;
    await producerLoop;
    assert.deepEqual(producerErrors, []);
    const dropped = logLines().filter(
      (line) => line.msg === "client connection closed" && line.clientId === "reload-producer",
    );
    assert.deepEqual(dropped, [], "no producer connection was closed across the reloads");
    const admin = direct("reload-verify").admin();
    await admin.connect();
    try {
      for (const topic of [held, plain]) {
        const offsets = await admin.fetchTopicOffsets(topic);
        const stored = offsets.reduce((sum, p) => sum + Number(p.high), 0);
        assert.ok(acknowledged.get(topic)! > 0);
        assert.equal(stored, acknowledged.get(topic), `${topic}: records stored`);
      }
    } finally {
      await admin.disconnect();
    }
    const logs = proxy.logs();
    assert.ok(logs.includes("admin.token"), "the reload logged the token's path");
    for (const token of ADMIN_TOKENS) assert.ok(!logs.includes(token), "no admin token in the log");
  });
});
