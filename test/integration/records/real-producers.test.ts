import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  COMPRESSION_NAMES,
  inspectLz4Frame,
  type RecordBatchView,
  rebuildBatch,
  snappyBlockLengths,
  XERIAL_MAGIC,
} from "../../../src/records/index.ts";
import { consoleProducerLine, NULL_MARKER, sampleRecords } from "../../fixtures/records/sample-records.ts";
import { clientPython } from "../../helpers/clients.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { storedBatches, storedRecords } from "./stored-batches.ts";

/** Enough records for several xerial chunks (32 KiB) and lz4 blocks (64 KiB) in one batch. */
const RECORD_COUNT = 600;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/records");
const writeFixtures = process.env.KPP_WRITE_FIXTURES === "1";
const here = dirname(fileURLToPath(import.meta.url));

async function createTopic(kafka: KafkaTestCluster, prefix: string): Promise<string> {
  const topic = kafka.uniqueTopic(prefix);
  await kafka.createTopic(topic, { configs: ["compression.type=producer"] });
  return topic;
}

/** What the stored codec framing looks like, for the report in the test name and assertions. */
function framingOf(batchData: Buffer, codec: string): string {
  if (codec === "snappy") {
    const framing = batchData.subarray(0, 8).equals(XERIAL_MAGIC) ? "xerial" : "raw";
    return `${framing}, blocks of ${snappyBlockLengths(batchData).join("/")} bytes`;
  }
  if (codec === "lz4") {
    const layout = inspectLz4Frame(batchData, "records");
    return `frame ${layout.blockMaxSize / 1024}K blocks${layout.blockChecksum ? " +blockcrc" : ""}${layout.contentChecksum ? " +contentcrc" : ""}`;
  }
  return codec;
}

/** Checks that hold for any producer's batches; saves them as fixtures when asked. */
function checkStored(producer: string, codec: string, batches: RecordBatchView[]): void {
  const dataBatches = batches.filter((b) => !b.isControl);
  assert.ok(dataBatches.length > 0);
  for (const batch of dataBatches) assert.equal(batch.compressionName, codec);
  if (codec === "none") {
    for (const batch of dataBatches) {
      assert.ok(
        rebuildBatch(batch, (record) => record).equals(batch.buffer),
        "re-encoding is byte-identical",
      );
    }
  }
  console.log(
    `${producer} ${codec}: ${dataBatches.length} batch(es), ${framingOf(dataBatches[0].recordsData, codec)}`,
  );
  if (writeFixtures) {
    mkdirSync(FIXTURES, { recursive: true });
    writeFileSync(join(FIXTURES, `${producer}-${codec}.bin`), Buffer.concat(batches.map((b) => b.buffer)));
  }
}

describe("batches stored from real producers decode to the records sent", { timeout: 600_000 }, () => {
  let cluster: KafkaTestCluster;
  const expected = sampleRecords(RECORD_COUNT);

  before(async () => {
    cluster = await useKafkaCluster();
  });

  for (const codec of COMPRESSION_NAMES) {
    test(`Java producer (ConsoleProducer), ${codec}`, { timeout: 180_000 }, async () => {
      const topic = await createTopic(cluster, `records-java-${codec}`);
      const input = `${expected.map(consoleProducerLine).join("\n")}\n`;
      await cluster.toolOk(
        "kafka-console-producer",
        [
          "--topic",
          topic,
          "--compression-codec",
          codec,
          "--producer-property",
          "batch.size=1048576",
          "--producer-property",
          "linger.ms=500",
          "--property",
          "parse.key=true",
          "--property",
          "parse.headers=true",
          "--property",
          `null.marker=${NULL_MARKER}`,
        ],
        { input, timeoutMs: 120_000 },
      );
      const batches = storedBatches(cluster.dir, topic);
      checkStored("java", codec, batches);
      if (codec === "snappy") {
        const blocks = snappyBlockLengths(batches[0].recordsData);
        assert.ok(batches[0].recordsData.subarray(0, 8).equals(XERIAL_MAGIC), "xerial framing");
        assert.ok(blocks.length > 1, "several xerial blocks");
        assert.deepEqual(
          blocks.slice(0, -1),
          blocks.slice(0, -1).map(() => 32 * 1024),
          "32 KiB xerial blocks",
        );
      }
      assert.deepEqual(storedRecords(batches), expected);
    });
  }

  for (const codec of COMPRESSION_NAMES) {
    test(`librdkafka (confluent-kafka), ${codec}`, { timeout: 180_000 }, async () => {
      const python = clientPython();
      const topic = await createTopic(cluster, `records-librdkafka-${codec}`);
      const run = spawnSync(
        python,
        [join(here, "librdkafka_produce.py"), cluster.bootstrap, topic, codec, String(RECORD_COUNT)],
        { encoding: "utf8", timeout: 120_000 },
      );
      assert.equal(run.status, 0, run.error?.message ?? run.stderr);
      const batches = storedBatches(cluster.dir, topic);
      checkStored("librdkafka", codec, batches);
      assert.deepEqual(storedRecords(batches), expected);
    });
  }
});
