/**
 * Topic-level flow control against a real Kafka cluster, with Kafka's own Java perf tools as clients (they honour
 * throttle_time_ms as every Java client does):
 * - a producer limited to 2 MB/s on topic T writes 2 MB/s ± 10% over 30 s (measured on the broker: log end
 *   offsets of fixed-size records), while a producer with the same client id on topic U, in its own process, is
 *   not slowed; both end with every record written and no error;
 * - a consumer of T limited to 2 MB/s reads 2 MB/s ± 10% and every record;
 * - two proxy instances sharing the limit: two producers, one through each, together write 2 MB/s ± 10%;
 * - the admin API shows the quotas and usage, replaces them with the token only, and the throttle metrics count.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import kafkajs, { type Admin } from "kafkajs";
import { type KafkaTestCluster, type ToolResult, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";

const LIMIT = 2_000_000;
const TOLERANCE = 0.1;
const RECORD_BYTES = 1000;
const WARM_UP_MS = 5_000;
const WINDOW_MS = 30_000;
const TOKEN = "flow-control-test-token-0123456789";
const CLIENT_ID = "fc-app";
/** The unlimited producer's own pace, and the floor it must keep through the proxy (twice the limit). */
const UNLIMITED_RECORDS_PER_SECOND = 6000;
const UNLIMITED_FLOOR = 2 * LIMIT;

const quotas = (extra: Record<string, unknown> = {}) => ({
  topics: { "fc-t-.*": { produce_bytes_per_second: LIMIT, fetch_bytes_per_second: LIMIT } },
  ...extra,
});

let cluster: KafkaTestCluster;
let direct: Admin;

async function recordsIn(topic: string): Promise<number> {
  const offsets = await direct.fetchTopicOffsets(topic);
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
}

/** Record-batch bytes the proxies counted for `flow` so far (their admin API). */
async function countedBytes(proxies: ProxyProcess[], flow: string): Promise<number> {
  let total = 0;
  for (const proxy of proxies) {
    const { usage } = (await admin(proxy, "GET", "/api/quotas")).json as {
      usage: { flow: string; bytes_total: number }[];
    };
    total += usage.find((entry) => entry.flow === flow)?.bytes_total ?? 0;
  }
  return total;
}

/**
 * The bytes per second written to `topics` over a window (30 s) after a warm-up (5 s), from the broker's log end offsets;
 * the record-batch bytes the proxies counted over the same window are reported beside it.
 */
async function measureWriteRate(
  topics: string[],
  proxies: ProxyProcess[],
  { warmUpMs, windowMs } = { warmUpMs: WARM_UP_MS, windowMs: WINDOW_MS },
): Promise<number> {
  await sleep(warmUpMs);
  const count = async () => (await Promise.all(topics.map(recordsIn))).reduce((a, b) => a + b, 0);
  const flows = topics.map((topic) => `produce topic:${topic}`);
  const counted = async () =>
    (await Promise.all(flows.map((flow) => countedBytes(proxies, flow)))).reduce((a, b) => a + b, 0);
  const [startCount, startCounted] = await Promise.all([count(), counted()]);
  const startMs = Date.now();
  await sleep(windowMs);
  const [endCount, endCounted] = await Promise.all([count(), counted()]);
  const endMs = Date.now();
  const seconds = (endMs - startMs) / 1000;
  process.stderr.write(
    `  batch bytes counted by the proxies: ${((endCounted - startCounted) / seconds / 1e6).toFixed(3)} MB/s\n`,
  );
  return ((endCount - startCount) * RECORD_BYTES) / seconds;
}

function producerPerfTest(
  bootstrap: string,
  topic: string,
  records: number,
  recordsPerSecond = -1,
): Promise<ToolResult> {
  return cluster.tool(
    "kafka-producer-perf-test",
    [
      "--bootstrap-server",
      bootstrap,
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(RECORD_BYTES),
      "--throughput",
      String(recordsPerSecond),
      "--producer-props",
      `client.id=${CLIENT_ID}`,
      "acks=all",
    ],
    { timeoutMs: 150_000 },
  );
}

/** Checks a perf-test run ended well and sent every record; answers its summary line. */
function assertClean(run: ToolResult, records: number, label: string): string {
  assert.equal(run.exitCode, 0, `${label}: ${run.stderr.slice(-3000)}`);
  assert.doesNotMatch(run.stderr, /Exception|ERROR/, `${label}: no client error`);
  assert.doesNotMatch(run.stdout, /Exception|ERROR/, `${label}: no client error`);
  // Retried batches (a reordered pipeline breaks an idempotent producer's sequence) are logged as warnings only.
  assert.doesNotMatch(run.stderr, /Got error produce response/, `${label}: no batch retried`);
  const summary = run.stdout.trim().split("\n").at(-1)!;
  assert.equal(Number(/^(\d+) records sent/.exec(summary)?.[1]), records, `${label}: ${summary}`);
  return summary;
}

function assertWithinLimit(rate: number, label: string): void {
  process.stderr.write(`${label}: ${(rate / 1e6).toFixed(3)} MB/s (limit ${LIMIT / 1e6} MB/s)\n`);
  assert.ok(
    Math.abs(rate - LIMIT) <= LIMIT * TOLERANCE,
    `${label}: ${(rate / 1e6).toFixed(3)} MB/s is not within ${TOLERANCE * 100}% of ${LIMIT / 1e6} MB/s`,
  );
}

async function admin(proxy: ProxyProcess, method: string, path: string, body?: unknown, token?: string) {
  const response = await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A sample's value in the proxy's /metrics, 0 when absent. */
async function metric(proxy: ProxyProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("flow control: topic quotas answered like Kafka's", { timeout: 300_000 }, () => {
  let proxy: ProxyProcess;
  const limited = `fc-t-${Date.now()}`;
  const unlimited = `fc-u-${Date.now()}`;
  const limitedRecords = 80_000;

  before(async () => {
    cluster = await useKafkaCluster();
    const kafka = new kafkajs.Kafka({
      brokers: cluster.bootstrap.split(","),
      logLevel: kafkajs.logLevel.NOTHING,
    });
    direct = kafka.admin();
    await direct.connect();
    await direct.createTopics({
      topics: [limited, unlimited, `${limited}-shared`, `${limited}-alone`].map((topic) => ({
        topic,
        numPartitions: 3,
        replicationFactor: 1,
      })),
      waitForLeaders: true,
    });
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { admin: { token: TOKEN }, quotas: quotas() },
    });
  });

  after(async () => {
    await proxy?.stop();
    await direct?.disconnect();
  });

  it("holds a producer on T at 2 MB/s while one on U with the same client id runs at its own pace", async () => {
    const unlimitedRecords = UNLIMITED_RECORDS_PER_SECOND * 30;
    const limitedRun = producerPerfTest(proxy.bootstrap, limited, limitedRecords);
    const unlimitedStarted = Date.now();
    const unlimitedRun = producerPerfTest(
      proxy.bootstrap,
      unlimited,
      unlimitedRecords,
      UNLIMITED_RECORDS_PER_SECOND,
    );
    const rate = await measureWriteRate([limited], [proxy]);
    const unlimitedResult = await unlimitedRun;
    const unlimitedSeconds = (Date.now() - unlimitedStarted) / 1000;
    const limitedResult = await limitedRun;

    assertClean(limitedResult, limitedRecords, "producer on T");
    assertWithinLimit(rate, "producer on T");
    assert.equal(await recordsIn(limited), limitedRecords, "every record of T is on the broker, once");
    const countedTotal = await countedBytes([proxy], `produce topic:${limited}`);
    process.stderr.write(`  T: ${countedTotal} record-batch bytes counted for ${limitedRecords} records\n`);

    const unlimitedSummary = assertClean(unlimitedResult, unlimitedRecords, "producer on U");
    const unlimitedRate = Number(/([\d.]+) records\/sec/.exec(unlimitedSummary)?.[1]) * RECORD_BYTES;
    process.stderr.write(
      `producer on U: ${(unlimitedRate / 1e6).toFixed(3)} MB/s in ${unlimitedSeconds.toFixed(1)} s\n`,
    );
    assert.ok(unlimitedRate >= UNLIMITED_FLOOR, `U is not slowed: ${unlimitedSummary}`);
    assert.equal(await recordsIn(unlimited), unlimitedRecords, "every record of U is on the broker, once");

    const state = (await admin(proxy, "GET", "/api/quotas")).json as {
      usage: { flow: string; throttled_responses: number }[];
    };
    const flows = state.usage.map((entry) => entry.flow);
    assert.ok(flows.includes(`produce topic:${limited}`), `T's flow is counted: ${flows}`);
    assert.ok(!flows.some((flow) => flow.includes(unlimited)), "U has no flow");
    const throttled = await metric(proxy, "kafka_proxy_throttled_responses_total", 'direction="produce"');
    const seconds = await metric(proxy, "kafka_proxy_throttle_time_seconds_total", 'quota="topic:fc-t-.*"');
    assert.ok(throttled > 0 && seconds > 0, `throttle metrics count: ${throttled} responses, ${seconds} s`);
  });

  // Once T is written, its consumer and the two sharing instances (their own proxies and topic) run side by side.
  describe("a consumer limit, and a limit shared by two instances", { concurrency: true }, () => {
    it("holds a consumer of T at 2 MB/s and hands it every record", async () => {
      const messages = 64_000;
      const run = await cluster.tool(
        "kafka-consumer-perf-test",
        [
          "--bootstrap-server",
          proxy.bootstrap,
          "--topic",
          limited,
          "--num-records",
          String(messages),
          "--group",
          `fc-consumer-${Date.now()}`,
          "--timeout",
          "60000",
        ],
        { timeoutMs: 120_000 },
      );
      assert.equal(run.exitCode, 0, run.stderr.slice(-3000));
      assert.doesNotMatch(run.stderr, /Exception|ERROR/, "no client error");
      // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
      // fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
      const values = run.stdout
        .trim()
        .split("\n")
        .at(-1)!
        .split(",")
        .map((v) => v.trim());
      const consumed = Number(values[4]);
      const fetchMs = Number(values[7]);
      assert.ok(consumed >= messages, `every record read: ${run.stdout}`);
      assert.ok(fetchMs >= 25_000, `the reads took the limit's time: ${run.stdout}`);
      assertWithinLimit((consumed * RECORD_BYTES * 1000) / fetchMs, "consumer of T");
    });

    it("holds the limit across two proxy instances sharing it, and takes an equal share without its peer", async () => {
      const shared = `${limited}-shared`;
      const sharing = { instances: 2, exchange_interval_ms: 500 };
      const extra = (peers: string[] = []) => ({
        admin: { token: TOKEN },
        quotas: quotas({ sharing: { ...sharing, peers } }),
      });
      const [first, second] = await Promise.all([
        startProxy({ upstream: cluster.bootstrap, extra: extra() }),
        startProxy({ upstream: cluster.bootstrap, extra: extra() }),
      ]);
      try {
        const body = (other: ProxyProcess) =>
          quotas({ sharing: { ...sharing, peers: [`http://127.0.0.1:${other.adminPort}`] } });
        assert.equal(
          (await admin(first, "PUT", "/api/quotas", body(second))).status,
          401,
          "no token, no change",
        );
        assert.equal((await admin(first, "PUT", "/api/quotas", body(second), TOKEN)).status, 200);
        assert.equal((await admin(second, "PUT", "/api/quotas", body(first), TOKEN)).status, 200);
        const invalid = await admin(
          first,
          "PUT",
          "/api/quotas",
          { topics: { "fc-(": { produce_bytes_per_second: -1 } } },
          TOKEN,
        );
        assert.equal(invalid.status, 400);
        assert.match(JSON.stringify(invalid.json), /body\.topics\.fc-\(/, "the problem names its field");

        const records = 40_000;
        const runs = [
          producerPerfTest(first.bootstrap, shared, records),
          producerPerfTest(second.bootstrap, shared, records),
        ];
        const rate = await measureWriteRate([shared], [first, second]);
        const described = (await admin(first, "GET", "/api/quotas")).json as {
          sharing: { peers_reachable: boolean };
        };
        assert.equal(described.sharing.peers_reachable, true, "the instances exchange usage");
        const results = await Promise.all(runs);
        for (const [i, result] of results.entries()) assertClean(result, records, `producer ${i + 1}`);
        assertWithinLimit(rate, "two producers through two instances");
        assert.equal(await recordsIn(shared), 2 * records, "every record is on the broker, once");

        // Fail closed: with its peer gone, an instance takes limit / instances.
        await second.stop();
        const alone = `${limited}-alone`;
        const aloneRecords = 20_000;
        const aloneRun = producerPerfTest(first.bootstrap, alone, aloneRecords);
        const aloneRate = await measureWriteRate([alone], [first], { warmUpMs: 3_000, windowMs: 15_000 });
        const aloneState = (await admin(first, "GET", "/api/quotas")).json as {
          sharing: { peers_reachable: boolean };
        };
        assert.equal(aloneState.sharing.peers_reachable, false);
        assertClean(await aloneRun, aloneRecords, "producer without the peer");
        process.stderr.write(`one instance without its peer: ${(aloneRate / 1e6).toFixed(3)} MB/s\n`);
        assert.ok(
          aloneRate <= (LIMIT / 2) * (1 + TOLERANCE) && aloneRate >= (LIMIT / 2) * (1 - 2 * TOLERANCE),
          `without its peer an instance takes half the limit: ${(aloneRate / 1e6).toFixed(3)} MB/s`,
        );
      } finally {
        await Promise.all([first.stop(), second.stop()]);
      }
    });
  });
});
