import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import kafkajs, { type Kafka, type LogEntry } from "kafkajs";
import { toolsClasspath } from "../../../scripts/kafka/versions.ts";
import { javaExecutable } from "../../../scripts/maven/resolve.ts";
import { eventually } from "../../compat/gateway/environment.ts";
import { clientPython } from "../../helpers/clients.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";

const { Kafka: KafkaClient, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

export const TOKEN = "reset-token-0123456789";
export const PARTITIONS = 3;
/** Topics whose names start so are virtualized: 3 virtual partitions on 1 physical one. */
export const VIRTUALIZED_PREFIX = "vreset-";
export const VIRTUALIZATION = {
  mapping: {
    topics: { [`${VIRTUALIZED_PREFIX}.*`]: { virtual_partitions: PARTITIONS, physical_partitions: 1 } },
  },
};

export interface Seen {
  readonly partition: number;
  readonly offset: bigint;
  readonly value: string;
}

/** A consumer that runs through a whole scenario: the same process and consumer instance throughout. */
export interface RunningMember {
  readonly seen: Seen[];
  pause(topic: string): void;
  resume(topic: string): void;
  /** Error lines it logged, and restarts, since `forgetStart()`. */
  problems(): string[];
  /** Drops what its start logged (a coordinator still loading, say): it is not the reset's. */
  forgetStart(): void;
  /** What it did lately, for a failure's message. */
  diagnostics(): string;
  /** True while the group has given it partitions. */
  hasPartitions(): boolean;
  stop(): Promise<void>;
}

export interface ResetEnvironment {
  cluster: KafkaTestCluster;
  proxy: ProxyProcess;
}

/** A KafkaJS client with no logging (producers and checks). */
export function quietClient(bootstrap: string, clientId: string): Kafka {
  return new KafkaClient({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
}

export async function postReset(
  proxy: ProxyProcess,
  group: string,
  body: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${proxy.adminPort}/api/groups/${group}/reset`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Writes `perPartition` records to every partition through the proxy; values are `<tag>-<partition>-<i>`. */
export async function produce(
  proxy: ProxyProcess,
  topic: string,
  perPartition: number,
  tag: string,
): Promise<void> {
  const producer = quietClient(proxy.bootstrap, "reset-producer").producer();
  await producer.connect();
  try {
    for (let p = 0; p < PARTITIONS; p++) {
      const messages = Array.from({ length: perPartition }, (_, i) => ({
        value: `${tag}-${p}-${i}`,
        partition: p,
      }));
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Committed offsets read from Kafka itself, not through the proxy (physical partitions). */
export function committedOnKafka(cluster: KafkaTestCluster, topic: string, group: string) {
  return committedAt(cluster.bootstrap, topic, group);
}

/** Committed offsets in the clients' view (through the proxy: virtual partitions). */
export function committedThroughProxy(proxy: ProxyProcess, topic: string, group: string) {
  return committedAt(proxy.bootstrap, topic, group);
}

async function committedAt(bootstrap: string, topic: string, group: string): Promise<Map<number, bigint>> {
  const admin = quietClient(bootstrap, "reset-checker").admin();
  await admin.connect();
  try {
    const [answer] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(answer!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

function total(members: RunningMember[]): number {
  return members.reduce((sum, m) => sum + m.seen.length, 0);
}

/** The offsets every member saw on each partition after `marks` (each member's count at the reset). */
function seenSince(members: RunningMember[], marks: number[]): Map<number, bigint[]> {
  const byPartition = new Map<number, bigint[]>();
  members.forEach((member, m) => {
    for (const record of member.seen.slice(marks[m])) {
      byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record.offset]);
    }
  });
  return byPartition;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000));

/**
 * The reset scenarios, against consumers that never stop: back to an earlier offset, to a timestamp, to latest.
 * After each, every member's next record on every partition is at the new position, and the committed offsets
 * end where consumption ends (no stale commit undid the reset).
 */
export function resetScenarios(
  env: () => ResetEnvironment,
  name: string,
  startMembers: (topic: string, group: string) => Promise<RunningMember[]>,
  options: { virtualized?: boolean } = {},
): void {
  let topic: string;
  let group: string;
  let members: RunningMember[] = [];
  /** Every record's offset per partition, in order, as first read. */
  const log = new Map<number, bigint[]>();

  /** `eventually`, with what the members did lately in its failure. */
  const until = async <T>(
    what: string,
    probe: () => Promise<T | undefined> | T | undefined,
    timeoutMs = 30_000,
  ) => {
    try {
      return await eventually(what, probe, timeoutMs);
    } catch (error) {
      const lately = members.map((m, i) => `member ${i}: ${m.diagnostics()}`).join("\n");
      throw new Error(`${(error as Error).message}\n${lately}`);
    }
  };

  const record = (marks: number[]) => {
    for (const [p, offsets] of seenSince(members, marks)) log.set(p, [...(log.get(p) ?? []), ...offsets]);
  };

  const physicalEnd = () =>
    [...log.values()].reduce((end, offsets) => (offsets.at(-1)! >= end ? offsets.at(-1)! + 1n : end), 0n);

  const expectCommitted = async (what: string, expected: (p: number) => bigint, end = physicalEnd()) => {
    const { proxy, cluster } = env();
    let last = "";
    try {
      await eventually(
        what,
        async () => {
          // A plain topic's offsets are read on Kafka itself; a virtualized one's only the proxy can map.
          const committed = options.virtualized
            ? await committedThroughProxy(proxy, topic, group)
            : await committedOnKafka(cluster, topic, group);
          last = JSON.stringify([...committed].map(([p, o]) => [p, String(o), String(expected(p))]));
          for (let p = 0; p < PARTITIONS; p++) {
            const offset = committed.get(p) ?? -1n;
            // A virtual partition's position may pass the other partitions' records after its last one, up
            // to the physical partition's end: a commit there is as good.
            const ok = options.virtualized ? offset >= expected(p) && offset <= end : offset === expected(p);
            if (!ok) return undefined;
          }
          return true;
        },
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; [partition, committed, expected]: ${last}`);
    }
  };

  before(async () => {
    const { cluster, proxy } = env();
    topic = cluster.uniqueTopic(options.virtualized ? `${VIRTUALIZED_PREFIX}${name}` : `reset-${name}`);
    group = `${topic}-group`;
    await cluster.createTopic(topic, { partitions: options.virtualized ? 1 : PARTITIONS });
    await produce(proxy, topic, 20, "a");
    members = await startMembers(topic, group);
    await eventually(
      `${name}: every member to be given partitions`,
      () => (members.every((m) => m.hasPartitions()) ? true : undefined),
      90_000,
    );
    await eventually(
      `${name}: the members to read 60 records`,
      () => (total(members) >= 60 ? true : undefined),
      90_000,
    );
    record(members.map(() => 0));
    const ends = (p: number) => log.get(p)!.at(-1)! + 1n;
    await expectCommitted(`${name}: the group to commit its last offsets`, ends);
    for (const member of members) member.forgetStart();
  });

  after(async () => {
    for (const member of members) await member.stop().catch(() => {});
  });

  test(`${name}: back to an earlier offset, every member's next record is at the new position`, async () => {
    const { proxy } = env();
    const marks = members.map((m) => m.seen.length);
    const targets = new Map([...log].map(([p, offsets]) => [p, offsets[5]!]));
    const answers = [];
    // One request per partition: on a virtualized topic the offsets differ per partition.
    const sameEverywhere = new Set(targets.values()).size === 1;
    if (sameEverywhere) {
      answers.push(
        await postReset(proxy, group, { topic, to: { offset: Number(targets.get(0)) }, id: `${group}-back` }),
      );
    } else {
      for (const [p, offset] of targets) {
        answers.push(
          await postReset(proxy, group, { topic, partitions: [p], to: { offset: Number(offset) } }),
        );
      }
    }
    for (const answer of answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      for (const row of answer.body.partitions as { partition: number; new: string }[])
        assert.equal(row.new, String(targets.get(row.partition)));
      const told = answer.body.members as { resynced: boolean }[];
      assert.equal(told.length, members.length);
      assert.ok(
        told.every((m) => m.resynced),
        JSON.stringify(told),
      );
    }
    await until(
      `${name}: the members to read 3 x 15 records again`,
      () => (total(members) - marks.reduce((a, b) => a + b, 0) >= 3 * 15 ? true : undefined),
      60_000,
    );
    await settle();
    const again = seenSince(members, marks);
    for (let p = 0; p < PARTITIONS; p++)
      assert.deepEqual(again.get(p), log.get(p)!.slice(5), `partition ${p}`);
    await expectCommitted(
      `${name}: the group to commit its last offsets again`,
      (p) => log.get(p)!.at(-1)! + 1n,
    );

    if (sameEverywhere) {
      const repeated = await postReset(proxy, group, {
        topic,
        to: { offset: Number(targets.get(0)) },
        id: `${group}-back`,
      });
      assert.equal(repeated.status, 200, JSON.stringify(repeated.body));
      assert.equal(repeated.body.repeated, true);
      await settle();
      await expectCommitted(`${name}: a repeated reset to change nothing`, (p) => log.get(p)!.at(-1)! + 1n);

      const record = `__kpp-reset.${group}`;
      const onKafka = await listGroups(env().cluster.bootstrap);
      assert.ok(onKafka.includes(record), `the reset is recorded on Kafka in ${record}`);
      const viaProxy = await listGroups(proxy.bootstrap);
      assert.ok(viaProxy.includes(group), "the group is listed through the proxy");
      assert.ok(!viaProxy.includes(record), "the reset's record is not listed through the proxy");
    }
  });

  test(`${name}: to a timestamp, the members continue from the first record at or after it`, async () => {
    const { proxy } = env();
    const before = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    let marks = members.map((m) => m.seen.length);
    await produce(proxy, topic, 5, "b");
    await until(`${name}: the members to read the new records`, () =>
      total(members) - marks.reduce((a, b) => a + b, 0) >= 15 ? true : undefined,
    );
    const firstOfB = new Map<number, bigint>();
    for (const [p, offsets] of seenSince(members, marks)) firstOfB.set(p, offsets[0]!);
    record(marks);
    marks = members.map((m) => m.seen.length);
    const answer = await postReset(proxy, group, { topic, to: { timestamp: before } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    for (const row of answer.body.partitions as { partition: number; new: string }[]) {
      // On a virtualized topic the timestamp finds the physical partition's first record: maybe another v's.
      const target = BigInt(row.new);
      const lastOfA = log.get(row.partition)!.at(-6)!;
      assert.ok(
        target > lastOfA && target <= firstOfB.get(row.partition)!,
        `partition ${row.partition}: ${target}`,
      );
      if (!options.virtualized) assert.equal(target, firstOfB.get(row.partition));
    }
    await until(
      `${name}: the members to read the 15 records again`,
      () => (total(members) - marks.reduce((a, b) => a + b, 0) >= 15 ? true : undefined),
      60_000,
    );
    await settle();
    const again = seenSince(members, marks);
    for (let p = 0; p < PARTITIONS; p++)
      assert.deepEqual(again.get(p), log.get(p)!.slice(-5), `partition ${p}`);
  });

  test(`${name}: to latest, records written while the members were paused are skipped`, async () => {
    const { proxy } = env();
    for (const member of members) member.pause(topic);
    await settle();
    await produce(proxy, topic, 4, "c");
    const marks = members.map((m) => m.seen.length);
    const answer = await postReset(proxy, group, { topic, to: "latest" });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    for (const member of members) member.resume(topic);
    await produce(proxy, topic, 1, "d");
    await until(
      `${name}: the members to read the record written after the reset`,
      () => (total(members) - marks.reduce((a, b) => a + b, 0) >= 3 ? true : undefined),
      60_000,
    );
    await settle();
    const after = seenSince(members, marks);
    const values = members.flatMap((m, i) => m.seen.slice(marks[i]).map((r) => r.value));
    assert.deepEqual(values.sort(), ["d-0-0", "d-1-0", "d-2-0"], "only the records written after the reset");
    for (const row of answer.body.partitions as { partition: number; new: string }[]) {
      const next = after.get(row.partition);
      assert.equal(next?.length, 1, `partition ${row.partition}`);
      assert.ok(next![0]! >= BigInt(row.new), `partition ${row.partition}: ${next} at or after ${row.new}`);
      if (!options.virtualized) assert.equal(next![0], BigInt(row.new));
    }
    let lastWritten = 0n;
    for (const offset of [...after.values()].flat()) if (offset > lastWritten) lastWritten = offset;
    await expectCommitted(
      `${name}: the group to commit after the new record`,
      (p) => after.get(p)![0]! + 1n,
      lastWritten + 1n,
    );
  });

  test(`${name}: the members logged no error and were never restarted`, () => {
    for (const member of members) assert.deepEqual(member.problems(), []);
  });
}

/**
 * KafkaJS's connection layer logs every error answer at error level ("Response Heartbeat(key: 12, ...)"),
 * the broker's own REBALANCE_IN_PROGRESS of any rebalance included (a second member joining makes them too).
 * A reset's heartbeat answer, and the rebalance it starts, make such lines; every other error line counts.
 */
const MEMBERSHIP_ANSWER = /^Response (Heartbeat|JoinGroup|SyncGroup)\(key: \d+, version: \d+\)$/;
const REJOIN_ERRORS = new Set([
  "Specified group generation id is not valid",
  "The group is rebalancing, so a rejoin is needed",
]);

export async function startKafkaJsMember(
  bootstrap: string,
  topic: string,
  group: string,
  name: string,
): Promise<RunningMember> {
  const errors: string[] = [];
  const kafka = new KafkaClient({
    clientId: name,
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const rejoin = MEMBERSHIP_ANSWER.test(log.message) && REJOIN_ERRORS.has(String(log.error));
        if (level === logLevel.ERROR && !rejoin) errors.push(JSON.stringify(log));
      },
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
  let partitions = 0;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    partitions = Object.values(event.payload.memberAssignment).flat().length;
  });
  consumer.on(consumer.events.CRASH, (event) => {
    errors.push(`crash: ${event.payload.error.message}`);
  });
  const seen: Seen[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 300,
    eachMessage: async ({ partition, message }) => {
      seen.push({ partition, offset: BigInt(message.offset), value: message.value?.toString() ?? "" });
    },
  });
  return {
    seen,
    pause: (t) => consumer.pause([{ topic: t }]),
    resume: (t) => consumer.resume([{ topic: t }]),
    problems: () => [...errors],
    forgetStart: () => {
      errors.length = 0;
    },
    diagnostics: () => `read ${seen.length} records; errors ${JSON.stringify(errors.slice(-5))}`,
    hasPartitions: () => partitions > 0,
    stop: () => consumer.disconnect(),
  };
}

const RECORD_PRINTER = fileURLToPath(new URL("../../compat/java/RecordPrinter.java", import.meta.url));
const LIBRDKAFKA_PRINTER = fileURLToPath(
  new URL("../../compat/librdkafka/record_printer.py", import.meta.url),
);

/** A Java consumer process (test/compat/java/RecordPrinter.java) with `properties`. */
export async function startJavaMember(
  bootstrap: string,
  topic: string,
  group: string,
  properties: Record<string, string>,
): Promise<RunningMember> {
  const classpath = (await toolsClasspath("4")).join(":");
  return startPrinter(javaExecutable(), [
    "-Xmx192m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-cp",
    classpath,
    RECORD_PRINTER,
    bootstrap,
    topic,
    group,
    ...Object.entries(properties).map(([k, v]) => `${k}=${v}`),
  ]);
}

/** A librdkafka consumer process (test/compat/librdkafka/record_printer.py) with `properties`. */
export async function startLibrdkafkaMember(
  bootstrap: string,
  topic: string,
  group: string,
  properties: Record<string, string>,
): Promise<RunningMember> {
  return startPrinter(clientPython(), [
    LIBRDKAFKA_PRINTER,
    bootstrap,
    topic,
    group,
    ...Object.entries(properties).map(([k, v]) => `${k}=${v}`),
  ]);
}

/**
 * A consumer process printing JSON lines: records, rebalance events, and `{"log": ...}` for each error it
 * reports; other lines (and standard error) are its log, where an ERROR counts as a problem.
 */
async function startPrinter(command: string, args: string[]): Promise<RunningMember> {
  const child: ChildProcess = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const seen: Seen[] = [];
  const events: string[] = [];
  const owned = new Set<number>();
  let stderr = "";
  let exited: number | null | undefined;
  let started = false;
  let pending = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith("{")) {
        // A log line the client's logging configuration sends to standard output.
        stderr += `${line}\n`;
        continue;
      }
      const entry = JSON.parse(line) as {
        log?: string;
        partition?: number;
        offset?: number;
        value?: string;
        event?: string;
        partitions?: number[];
      };
      if (entry.event === "started") started = true;
      if (entry.event) events.push(line);
      for (const p of entry.partitions ?? []) {
        if (entry.event === "assigned") owned.add(p);
        else owned.delete(p);
      }
      if (entry.log !== undefined) stderr += `ERROR ${entry.log}\n`;
      if (entry.partition !== undefined)
        seen.push({ partition: entry.partition, offset: BigInt(entry.offset!), value: entry.value! });
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.once("exit", (code) => {
    exited = code;
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  await eventually(
    "the consumer to start",
    () => {
      if (exited !== undefined) throw new Error(`the consumer exited with ${exited}: ${stderr.slice(-3000)}`);
      return started ? true : undefined;
    },
    60_000,
  );
  let forgotten = 0;
  return {
    seen,
    pause: () => child.stdin!.write("pause\n"),
    resume: () => child.stdin!.write("resume\n"),
    problems: () => {
      const lines = stderr
        .slice(forgotten)
        .split("\n")
        .filter((line) => /\bERROR\b|Exception/.test(line));
      return exited === undefined ? lines : [...lines, `exited with ${exited}`];
    },
    forgetStart: () => {
      forgotten = stderr.length;
    },
    diagnostics: () =>
      `read ${seen.length} records; events ${events.slice(-12).join(" ")}; log ${stderr.slice(-1500)}`,
    hasPartitions: () => owned.size > 0,
    async stop() {
      child.stdin!.write("stop\n");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      if (exited === undefined) await new Promise((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      process.off("exit", killOnExit);
    },
  };
}

/** The group ids ListGroups answers at `bootstrap`. */
async function listGroups(bootstrap: string): Promise<string[]> {
  const admin = new kafkajs.Kafka({ brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups.map((g) => g.groupId);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Registers, in the calling suite, the start of a cluster and of a proxy with the admin token and the
 * virtualization rule (handed to `ready`), and the proxy's stop after the suite.
 */
export function useResetEnvironment(ready: (env: ResetEnvironment) => void): void {
  let proxy: ProxyProcess | undefined;
  before(async () => {
    const cluster = await useKafkaCluster();
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { admin: { token: TOKEN }, ...VIRTUALIZATION },
    });
    ready({ cluster, proxy });
  });
  after(async () => {
    await proxy?.stop();
  });
}
