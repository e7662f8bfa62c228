/**
 * Acceptance: the Java producer with its defaults (idempotence on, acks=all, 5 requests in flight) writing to a
 * topic with 32 virtual partitions on 4 physical ones. kafka-producer-perf-test runs with zero errors and the
 * physical log holds every acknowledged record once, each (broker producer id, p) stream a gap-free sequence
 * standing for one v; then a producer of numbered records runs while the leader of a physical partition is
 * killed and restarted: no acknowledged record is lost, and duplicates are counted.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { toolsClasspath } from "../../../scripts/kafka/versions.ts";
import { javaExecutable } from "../../../scripts/maven/resolve.ts";
import {
  createTopic,
  groupBy,
  type PhysicalRecord,
  readPhysical,
  startVirtualEnvironment,
  type VirtualEnvironment,
} from "./acceptance-support.ts";

const VIRTUAL = 32;
const PHYSICAL = 4;
const PERF_RECORDS = Number(process.env.KPP_ACCEPT_PERF_RECORDS ?? 1_000_000);
const FAILOVER_RECORDS = 60_000;
const FAILOVER_RATE = 4_000;
const GROUP_STRIDE = 2n ** 48n;

/**
 * Each (broker producer id, epoch, p) stream must be one v (the group g in the id's top bits, g * P + p = v) and
 * hold sequences 0..n-1 in offset order: no duplicate, no gap, no reordering.
 */
function checkSequenceStreams(records: PhysicalRecord[]): { streams: number; producers: Set<bigint> } {
  const streams = new Map<string, PhysicalRecord[]>();
  for (const record of records) {
    const id = `${record.producerId}/${record.producerEpoch}/${record.partition}`;
    const list = streams.get(id);
    if (list) list.push(record);
    else streams.set(id, [record]);
  }
  const producers = new Set<bigint>();
  for (const [id, list] of streams) {
    const first = list[0]!;
    producers.add(first.producerId % GROUP_STRIDE);
    const group = Number(first.producerId / GROUP_STRIDE);
    for (const record of list) {
      assert.equal(record.marker, group * PHYSICAL + record.partition, `${id}: one v per stream`);
    }
    list.sort((x, y) => x.offset - y.offset);
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.sequence !== i) {
        assert.fail(`${id}: record ${i} (offset ${list[i]!.offset}) has sequence ${list[i]!.sequence}`);
      }
    }
  }
  return { streams: streams.size, producers };
}

interface JavaRun {
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  kill(): void;
}

function runSequenceProducer(args: string[], classpath: string): JavaRun {
  const source = fileURLToPath(new URL("./SequenceProducer.java", import.meta.url));
  const child = spawn(
    javaExecutable(),
    ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath, source, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  let stderr = "";
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { lines, stderr: () => stderr, exited, kill: () => child.kill("SIGKILL") };
}

describe("virtual partitions: the Java idempotent producer", { timeout: 480_000 }, () => {
  let env: VirtualEnvironment;

  before(async () => {
    env = await startVirtualEnvironment(
      { "^va-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } },
      "acceptance-idempotence",
      { exclusive: true }, // a leader is killed and restarted
    );
  });

  after(async () => {
    await env?.close();
  });

  async function createVirtualTopic(prefix: string): Promise<string> {
    const topic = env.cluster.uniqueTopic(prefix);
    await createTopic(env, topic, VIRTUAL, [{ name: "min.insync.replicas", value: "2" }]);
    return topic;
  }

  it(`kafka-producer-perf-test: ${PERF_RECORDS} records over 32 virtual partitions, zero errors, zero duplicates`, async () => {
    const topic = await createVirtualTopic("va-perf");
    const started = Date.now();
    const run = await env.tool(
      "kafka-producer-perf-test",
      [
        "--topic",
        topic,
        "--num-records",
        String(PERF_RECORDS),
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        "acks=all",
      ],
      { timeoutMs: 240_000 },
    );
    const seconds = (Date.now() - started) / 1000;
    assert.equal(run.exitCode, 0, run.stderr.slice(-3000));
    assert.doesNotMatch(run.stderr, /Exception/, "no producer errors");
    const summary = run.stdout.trim().split("\n").at(-1)!;
    const sent = Number(/^(\d+) records sent/.exec(summary)?.[1]);
    assert.equal(sent, PERF_RECORDS, summary);

    const physical = await readPhysical(env.cluster, topic);
    const all = physical.records.flat();
    assert.equal(all.length, PERF_RECORDS, "physical record count == acknowledged count");
    const perV = groupBy(all, (r) => r.marker!);
    const counts = Array.from({ length: VIRTUAL }, (_, v) => perV.get(v)?.length ?? 0);
    const used = counts.filter((n) => n > 0).length;
    // The sticky partitioner moves on after each full batch (16 KiB): 100k records visit every v.
    if (PERF_RECORDS >= 100_000) assert.equal(used, VIRTUAL, `records spread over every v: ${counts}`);
    const { streams, producers } = checkSequenceStreams(all);
    assert.equal(producers.size, 1, "one client producer id");
    assert.equal(streams, used, "one (producer id, p) stream per v");
    process.stderr.write(
      `perf-test: ${PERF_RECORDS} records in ${seconds.toFixed(1)} s (${summary}); per-v min ${Math.min(...counts)} max ${Math.max(...counts)}\n`,
    );
  });

  /**
   * Runs the numbered-record producer through the proxy, calls `disrupt` once 10000 records are acknowledged,
   * then checks every acknowledged record against the physical log.
   */
  async function produceThrough(label: string, disrupt: (topic: string) => Promise<string>): Promise<void> {
    const topic = await createVirtualTopic("va-failover");
    const dir = mkdtempSync(path.join(tmpdir(), "kpp-accept-"));
    const ackedFile = path.join(dir, "acked.txt");
    const classpath = (await toolsClasspath("4")).join(":");
    const producer = runSequenceProducer(
      [env.proxy.bootstrap, topic, String(FAILOVER_RECORDS), String(FAILOVER_RATE), ackedFile],
      classpath,
    );
    const guard = setTimeout(() => producer.kill(), 150_000);
    let what: string;
    try {
      const deadline = Date.now() + 60_000;
      while (!producer.lines.some((l) => l === "acked 10000")) {
        if (Date.now() > deadline) assert.fail(`no progress: ${producer.lines} ${producer.stderr()}`);
        await sleep(100);
      }
      what = await disrupt(topic);
      const code = await producer.exited;
      assert.equal(code, 0, producer.stderr());
    } finally {
      clearTimeout(guard);
    }
    const done = producer.lines.find((l) => l.startsWith("done "))!;
    const [, ackedText, errorsText] = done.split(" ");
    const acked = readFileSync(ackedFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(" ").map(Number) as [number, number, number]);
    assert.equal(acked.length, Number(ackedText));

    const physical = await readPhysical(env.cluster, topic);
    const all = physical.records.flat();
    const copies = new Map<string, PhysicalRecord[]>();
    for (const record of all) {
      const list = copies.get(record.value!);
      if (list) list.push(record);
      else copies.set(record.value!, [record]);
    }
    let lost = 0;
    for (const [index, v, offset] of acked) {
      const stored = copies.get(`s-${index}`);
      if (!stored) {
        lost++;
        continue;
      }
      const at = stored.find((r) => r.offset === offset && r.partition === v % PHYSICAL);
      assert.ok(at, `s-${index} acknowledged at ${v}/${offset}`);
      assert.equal(at.marker, v);
    }
    const duplicates = [...copies.values()].reduce((sum, list) => sum + list.length - 1, 0);
    process.stderr.write(
      `${label}: ${what}; acknowledged ${acked.length}, errors ${errorsText}, stored ${all.length}, lost ${lost}, duplicates ${duplicates}\n`,
    );
    assert.equal(lost, 0, "no acknowledged record lost");
    assert.equal(duplicates, 0, "no duplicates");
    checkSequenceStreams(all);
  }

  it("a leader killed and restarted mid-run: no acknowledged record lost, no duplicates", async () => {
    await produceThrough("leader failover", async (topic) => {
      const metadata = env.direct.admin();
      await metadata.connect();
      const { topics } = await metadata.fetchTopicMetadata({ topics: [topic] });
      await metadata.disconnect();
      const victim = topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
      await env.cluster.killBroker(victim);
      await sleep(4_000);
      await env.cluster.restartBroker(victim);
      return `killed broker ${victim} (leader of p0) for 4 s`;
    });
  });

  it("the proxy killed and restarted mid-run: no acknowledged record lost, no duplicates", async () => {
    await produceThrough("proxy failover", async () => {
      await env.restartProxy(2_000);
      return "killed the proxy (SIGKILL), a new one on the same ports 2 s later";
    });
  });
});
