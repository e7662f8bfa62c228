/**
 * Two builds of the proxy side by side: this checkout and another revision, in front of one Kafka cluster, driven
 * by Kafka's perf tools in alternating rounds. On a small shared machine throughput swings by more than most
 * changes cost, so what settles a change is the proxy's CPU per MB (user and system apart: system time is mostly
 * the kernel's socket copies, which the proxy's code does not change) and each round's difference. At full speed
 * the producer's requests grow when the proxy answers more slowly, which changes the cost per MB in turn;
 * `--paced` holds the producer at a fixed pace (records/s), so that both builds see the same requests.
 *
 * usage: npm run bench:compare -- <revision> [--rounds N] [--records N] [--compression none|gzip|snappy|lz4|zstd]
 *        [--virtual] [--paced RECORDS_PER_SECOND] [--this-config '<JSON merged over this checkout's proxy config>']
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import kafkajs from "kafkajs";
import { start, stop } from "../../scripts/kafka/cluster.ts";
import { type ProxyProcess, startProxy } from "../../test/helpers/proxy.ts";
import { consumerPerf, cpuSplitMs, producerPerf } from "../gateway/perf-tools.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const RECORD_SIZE = 1024;
const PARTITIONS = 3;
const VIRTUAL_RULES = { "^cmp-v-.*": { virtual_partitions: 24, physical_partitions: PARTITIONS } };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "6" },
    records: { type: "string", default: "200000" },
    compression: { type: "string", default: "none" },
    virtual: { type: "boolean", default: false },
    "this-config": { type: "string", default: "{}" },
    paced: { type: "string" },
  },
});
const revision = positionals[0];
if (!revision) {
  process.stderr.write("usage: npm run bench:compare -- <revision> [--rounds N] [--records N] [--virtual]\n");
  process.exit(2);
}
const rounds = Number(values.rounds);
const records = Number(values.records);

type Build = "this" | "other";

/** A checkout of `revision` under .cache, compiled; reused by later comparisons with the same commit. */
function buildOf(rev: string): { root: string; commit: string } {
  const commit = execFileSync("git", ["rev-parse", "--verify", `${rev}^{commit}`], { cwd: ROOT })
    .toString()
    .trim();
  const root = path.join(ROOT, ".cache", "bench-compare", commit);
  if (!existsSync(root)) {
    mkdirSync(path.dirname(root), { recursive: true });
    execFileSync("git", ["worktree", "add", "--detach", root, commit], { cwd: ROOT, stdio: "ignore" });
  }
  if (!existsSync(path.join(root, "node_modules")))
    symlinkSync(path.join(ROOT, "node_modules"), path.join(root, "node_modules"));
  compile(root);
  return { root, commit };
}

function compile(root: string): void {
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const built = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error(`the build in ${root} failed`);
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Per measure and build, one sample per round. */
const samples = new Map<string, Record<Build, number[]>>();
function sample(measure: string, build: Build, value: number): void {
  let entry = samples.get(measure);
  if (!entry) samples.set(measure, (entry = { this: [], other: [] }));
  entry[build].push(value);
}

const other = buildOf(revision);
compile(ROOT);
process.env.KPP_KAFKA_JVM_OPTS ??= "-Xmx1g -XX:+UseG1GC";
process.stderr.write(
  `comparing this checkout with ${revision} (${other.commit.slice(0, 10)}): ${rounds} rounds of ${records} x ${RECORD_SIZE} B, ` +
    `compression ${values.compression}, ${values.virtual ? "virtualized topics (24 on 3)" : "plain topics"}` +
    `${values.paced === undefined ? "" : `, producer paced at ${values.paced} records/s`}` +
    `${values["this-config"] === "{}" ? "" : `, this checkout with ${values["this-config"]}`}\n`,
);
const cluster = await start({ brokers: 1, version: "4" });
const proxies: Partial<Record<Build, ProxyProcess>> = {};
const admin = new kafkajs.Kafka({ brokers: [cluster.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
try {
  const extra = { logging: { level: "warn", json: true }, mapping: { topics: VIRTUAL_RULES } };
  const thisExtra = { ...extra, ...(JSON.parse(values["this-config"]) as Record<string, unknown>) };
  proxies.this = await startProxy({ upstream: cluster.bootstrap, extra: thisExtra, compiled: true });
  proxies.other = await startProxy({ upstream: cluster.bootstrap, extra, buildRoot: other.root });
  await admin.connect();
  const prefix = `cmp-${values.virtual ? "v" : "p"}-${Date.now().toString(36)}`;
  const topicOf = (round: number, build: Build) => `${prefix}-${round}-${build}`;
  const WARM_UP = -1;
  const builds: Build[] = ["this", "other"];
  await admin.createTopics({
    topics: Array.from({ length: rounds + 1 }, (_, i) => builds.map((build) => topicOf(i - 1, build)))
      .flat()
      .map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const megabytes = (records * RECORD_SIZE) / (1024 * 1024);
  // Not measured: both builds compile their hot code and fill their pools first.
  for (const build of builds) {
    const proxy = proxies[build]!;
    const topic = topicOf(WARM_UP, build);
    await producerPerf(cluster.dir, proxy.bootstrap, topic, records, RECORD_SIZE);
    await consumerPerf(cluster.dir, proxy.bootstrap, topic, records, `${topic}-group`);
  }
  for (let round = 0; round < rounds; round++) {
    for (const build of round % 2 ? builds.toReversed() : builds) {
      const proxy = proxies[build]!;
      const pid = proxy.process.pid!;
      const topic = topicOf(round, build);
      const properties = [`compression.type=${values.compression}`];
      let before = cpuSplitMs(pid);
      const produced = await producerPerf(cluster.dir, proxy.bootstrap, topic, records, RECORD_SIZE, {
        properties,
        recordsPerSecond: values.paced === undefined ? undefined : Number(values.paced),
      });
      let after = cpuSplitMs(pid);
      sample("produce MB/s", build, produced.mbPerSec);
      sample("produce user ms/MB", build, (after.user - before.user) / megabytes);
      sample("produce system ms/MB", build, (after.system - before.system) / megabytes);
      before = after;
      const consumed = await consumerPerf(cluster.dir, proxy.bootstrap, topic, records, `${topic}-group`);
      after = cpuSplitMs(pid);
      sample("consume MB/s", build, consumed.fetchMbPerSec);
      sample("consume user ms/MB", build, (after.user - before.user) / megabytes);
      sample("consume system ms/MB", build, (after.system - before.system) / megabytes);
      process.stderr.write(
        `round ${round + 1}/${rounds} ${build}: produce ${produced.mbPerSec} MB/s, consume ${consumed.fetchMbPerSec} MB/s\n`,
      );
    }
  }
} finally {
  await admin.disconnect().catch(() => {});
  await Promise.all(Object.values(proxies).map((proxy) => proxy.stop().catch(() => {})));
  await stop(cluster.dir);
}

const format = (value: number) => value.toFixed(2);
console.log(
  `\nthis checkout against ${revision} (${other.commit.slice(0, 10)}), ${rounds} alternating rounds; ` +
    "difference: this - other, per round",
);
console.log(
  `${"measure".padEnd(22)} ${"this".padStart(8)} ${"other".padStart(8)} ${"median diff".padStart(12)}  per-round differences`,
);
for (const [measure, { this: mine, other: theirs }] of samples) {
  const differences = mine.map((value, i) => value - theirs[i]!);
  console.log(
    `${measure.padEnd(22)} ${format(median(mine)).padStart(8)} ${format(median(theirs)).padStart(8)} ` +
      `${format(median(differences)).padStart(12)}  ${differences.map(format).join(" ")}`,
  );
}
