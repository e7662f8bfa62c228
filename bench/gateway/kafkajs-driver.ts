/**
 * KafkaJS load for the gateway bench, run as its own node process so that it does not share the bench's event
 * loop. One phase per run; prints one JSON line with the phase's figures.
 *
 * produce: RECORDS records of SIZE bytes in batches of BATCH (acks=1, no compression), INFLIGHT batches in
 *          flight; MB/s from the first send to the last acknowledgement.
 * consume: a consumer group (eachBatch) reads the topic from the beginning until RECORDS records have been
 *          read; MB/s from the group join to the last batch (the join itself is reported apart).
 *
 * usage: node bench/gateway/kafkajs-driver.ts produce|consume --bootstrap B --topic T --records N
 *        [--size 1024] [--batch 100] [--inflight 4] [--group G]
 */
import { parseArgs } from "node:util";
import kafkajs from "kafkajs";

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
const MB = 1024 * 1024;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    bootstrap: { type: "string" },
    topic: { type: "string" },
    records: { type: "string" },
    size: { type: "string", default: "1024" },
    batch: { type: "string", default: "100" },
    inflight: { type: "string", default: "4" },
    group: { type: "string" },
  },
});
const phase = positionals[0];
const records = Number(values.records);
const size = Number(values.size);
const topic = values.topic!;
const kafka = new Kafka({
  clientId: "kpp-bench-kafkajs",
  brokers: values.bootstrap!.split(","),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 10_000,
  requestTimeout: 30_000,
  retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 },
});

async function produce(): Promise<Record<string, number>> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const batch = Number(values.batch);
  const inflight = Number(values.inflight);
  const value = Buffer.alloc(size, 0x61);
  let next = 0;
  const started = performance.now();
  const sender = async () => {
    while (next < records) {
      const count = Math.min(batch, records - next);
      next += count;
      const messages = Array.from({ length: count }, () => ({ value }));
      await producer.send({ topic, acks: 1, messages });
    }
  };
  await Promise.all(Array.from({ length: inflight }, sender));
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return {
    records,
    seconds: Number(seconds.toFixed(3)),
    mbPerSec: Number(((records * size) / MB / seconds).toFixed(2)),
    recordsPerSec: Math.round(records / seconds),
  };
}

async function consume(): Promise<Record<string, number>> {
  const consumer = kafka.consumer({
    groupId: values.group ?? `${topic}-kafkajs`,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100,
  });
  const started = performance.now();
  let joined = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (!joined) joined = performance.now();
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  let bytes = 0;
  let finished = 0;
  const done = new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
    void consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) bytes += message.value?.length ?? 0;
          read += batch.messages.length;
          if (read >= records && !finished) {
            finished = performance.now();
            resolve();
          }
        },
      })
      .catch(reject);
  });
  const timeout = setTimeout(() => {
    process.stderr.write(`consume timed out after reading ${read} of ${records}\n`);
    process.exit(2);
  }, 120_000);
  await done;
  clearTimeout(timeout);
  const seconds = (finished - (joined || started)) / 1000;
  await consumer.disconnect();
  return {
    records: read,
    seconds: Number(seconds.toFixed(3)),
    joinSeconds: Number((((joined || started) - started) / 1000).toFixed(3)),
    mbPerSec: Number((bytes / MB / seconds).toFixed(2)),
    recordsPerSec: Math.round(read / seconds),
  };
}

if (phase !== "produce" && phase !== "consume") {
  process.stderr.write("usage: kafkajs-driver.ts produce|consume --bootstrap B --topic T --records N\n");
  process.exit(64);
}
const result = phase === "produce" ? await produce() : await consume();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
