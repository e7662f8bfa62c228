/**
 * The gateway acceptance scenarios for a client driven through the JSON contract (see driver.ts): topics, keyed
 * idempotent produce with each codec, group consume, commit/restart/resume, rebalance, lag and topic configs,
 * all through the proxy.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { type Gateway, startGateway } from "../gateway/environment.ts";
import {
  type BrokerAddress,
  type DeliveredRecord,
  type DriverProgram,
  type GroupDescription,
  type GroupMemberProcess,
  JsonDriver,
  type MetadataResult,
  type ProduceResult,
} from "./driver.ts";

export type Codec = "none" | "gzip" | "snappy" | "lz4" | "zstd";
export type GroupProtocol = "classic" | "consumer";

export interface DriverSuiteOptions {
  title: string;
  /** Prepares the client program (e.g. builds it) once for the file. */
  program: () => Promise<DriverProgram>;
  codecs: Codec[];
  /** Group protocols to run the resume and rebalance scenarios with. */
  groupProtocols: GroupProtocol[];
}

const PARTITIONS = 3;
const REBALANCE_PARTITIONS = 6;
const RECORDS_PER_CODEC = 40;

const recordId = (r: DeliveredRecord) => `${r.partition}@${r.offset}`;

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

/** Checks that each key stays on one partition and each partition's offsets are distinct. */
function assertKeyedLayout(
  records: DeliveredRecord[],
  partitionOfKey = new Map<string, number>(),
): Map<string, number> {
  const ids = new Set<string>();
  for (const record of records) {
    const expected = partitionOfKey.get(record.key) ?? record.partition;
    assert.equal(record.partition, expected, `key ${record.key} stays on partition ${expected}`);
    partitionOfKey.set(record.key, expected);
    assert.ok(!ids.has(recordId(record)), `offset ${recordId(record)} assigned once`);
    ids.add(recordId(record));
  }
  return partitionOfKey;
}

function assertOffsetsIncrease(records: DeliveredRecord[]): void {
  const last = new Map<number, number>();
  for (const record of records) {
    const previous = last.get(record.partition) ?? -1;
    assert.ok(record.offset > previous, `offsets increase on partition ${record.partition}`);
    last.set(record.partition, record.offset);
  }
}

function endOffsets(records: DeliveredRecord[]): Map<number, number> {
  const ends = new Map<number, number>();
  for (const record of records)
    ends.set(record.partition, Math.max(ends.get(record.partition) ?? 0, record.offset + 1));
  return ends;
}

/** Addresses clients are given must be the proxy's listeners, never an upstream broker's. */
export function assertProxyAddress(gateway: Gateway, address: BrokerAddress, what: string): void {
  const upstreamPorts = gateway.directBootstrap
    .split(",")
    .map((hostPort) => Number(hostPort.split(":").at(-1)));
  if (!gateway.proxy) return;
  assert.ok(
    !upstreamPorts.includes(address.port),
    `${what} ${address.host}:${address.port} is not an upstream port`,
  );
  const listen = (parse(readFileSync(gateway.proxy.configFile, "utf8")) as { listen: Record<string, number> })
    .listen;
  const base = listen.broker_port_base!;
  const count = listen.broker_port_count!;
  assert.equal(address.host, "127.0.0.1", `${what} host`);
  assert.ok(
    address.port >= base && address.port < base + count,
    `${what} port ${address.port} is one of the proxy's broker ports ${base}..${base + count - 1}`,
  );
}

export function defineDriverSuite(options: DriverSuiteOptions): void {
  describe(options.title, { timeout: 300_000 }, () => {
    let gateway: Gateway;
    let client: JsonDriver;
    let topic: string;
    const produced: DeliveredRecord[] = [];
    let partitionOfKey = new Map<string, number>();

    before(async () => {
      const [program, started] = await Promise.allSettled([options.program(), startGateway({ brokers: 3 })]);
      if (started.status === "fulfilled") gateway = started.value;
      if (program.status === "rejected") throw program.reason;
      if (started.status === "rejected") throw started.reason;
      client = new JsonDriver(program.value, gateway.bootstrap);
      topic = gateway.uniqueName(program.value.name);
    });

    after(async () => {
      await gateway?.close();
    });

    async function produce(
      target: string,
      count: number,
      start: number,
      codec: Codec,
    ): Promise<DeliveredRecord[]> {
      const result = await client.run<ProduceResult>("produce", {
        topic: target,
        count,
        start,
        tag: codec,
        compression: codec,
      });
      assert.deepEqual(result.errors, []);
      assert.equal(result.delivered.length, count);
      return result.delivered;
    }

    it("lists only the proxy's addresses in metadata", async () => {
      const metadata = await client.run<MetadataResult>("metadata");
      assert.equal(metadata.brokers.length, 3);
      for (const broker of metadata.brokers) assertProxyAddress(gateway, broker, `broker ${broker.id}`);
    });

    it("creates a topic with the admin API", async () => {
      await client.run("create-topic", { topic, partitions: PARTITIONS, "replication-factor": 3 });
      const metadata = await client.run<MetadataResult>("metadata", { topic });
      const described = metadata.topics[topic];
      assert.ok(described, "topic in metadata");
      assert.equal(described.error, null);
      assert.equal(Object.keys(described.partitions).length, PARTITIONS);
      const brokerIds = new Set(metadata.brokers.map((b) => b.id));
      for (const partition of Object.values(described.partitions)) assert.ok(brokerIds.has(partition.leader));
    });

    for (const [index, codec] of options.codecs.entries()) {
      it(`produces keyed records idempotently with acks=all, compression ${codec}`, async () => {
        const delivered = await produce(topic, RECORDS_PER_CODEC, index * RECORDS_PER_CODEC, codec);
        partitionOfKey = assertKeyedLayout(delivered, partitionOfKey);
        produced.push(...delivered);
      });
    }

    it("consumes every record in a consumer group", async () => {
      const group = gateway.uniqueName("read");
      const { records } = await client.run<{ records: DeliveredRecord[] }>(
        "consume",
        { topic, group, expect: produced.length, settle: 1 },
        60,
      );
      assert.deepEqual(sorted(records.map((r) => r.value)), sorted(produced.map((r) => r.value)));
      assert.deepEqual(sorted(records.map(recordId)), sorted(produced.map(recordId)));
      assertKeyedLayout(records, new Map(partitionOfKey));
      assertOffsetsIncrease(records);
    });

    for (const protocol of options.groupProtocols) {
      it(`commits, shows the lag, restarts and resumes where it left off (group protocol ${protocol})`, async () => {
        const group = gateway.uniqueName(`resume-${protocol}`);
        const firstCount = Math.floor(produced.length / 3);
        const common = { topic, group, "group-protocol": protocol, commit: true };
        const first = await client.run<{ records: DeliveredRecord[] }>(
          "consume",
          { ...common, max: firstCount },
          60,
        );
        assert.equal(first.records.length, firstCount);

        const described = await client.run<GroupDescription>("describe-group", { group });
        assert.equal(described.state.toLowerCase(), "empty");
        assert.deepEqual(described.members, []);
        assertProxyAddress(gateway, described.coordinator, "group coordinator");
        const ends = endOffsets(produced);
        const committed = endOffsets(first.records);
        for (const partition of described.partitions) {
          assert.equal(partition.topic, topic);
          assert.equal(partition.end, ends.get(partition.partition), `end offset of ${partition.partition}`);
          assert.equal(
            partition.committed,
            committed.get(partition.partition),
            `committed offset of ${partition.partition}`,
          );
          assert.equal(partition.lag, partition.end - partition.committed, `lag of ${partition.partition}`);
        }
        assert.deepEqual(
          sorted(described.partitions.map((p) => String(p.partition))),
          sorted([...committed.keys()].map(String)),
        );
        // Partitions the first run never reached have no committed offset, so no lag entry.
        const committedLag = [...committed].reduce(
          (sum, [partition, offset]) => sum + ends.get(partition)! - offset,
          0,
        );
        assert.equal(described.total_lag, committedLag);

        const second = await client.run<{ records: DeliveredRecord[] }>(
          "consume",
          { ...common, expect: produced.length - firstCount, settle: 2 },
          60,
        );
        const firstIds = new Set(first.records.map(recordId));
        const redelivered = second.records.filter((r) => firstIds.has(recordId(r)));
        assert.deepEqual(redelivered, [], "no committed record is delivered again");
        assert.deepEqual(
          sorted([...first.records, ...second.records].map(recordId)),
          sorted(produced.map(recordId)),
          "nothing is lost across the restart",
        );
        assertOffsetsIncrease(second.records);

        const caughtUp = await client.run<GroupDescription>("describe-group", { group });
        assert.equal(caughtUp.total_lag, 0);
        assert.equal(caughtUp.partitions.length, PARTITIONS);
      });
    }

    for (const protocol of options.groupProtocols) {
      it(`rebalances as a second member joins and leaves, losing no record (group protocol ${protocol})`, async () => {
        const rebalanceTopic = gateway.uniqueName(`rebalance-${protocol}`);
        await client.run("create-topic", {
          topic: rebalanceTopic,
          partitions: REBALANCE_PARTITIONS,
          "replication-factor": 3,
        });
        const group = gateway.uniqueName(`rebalance-${protocol}`);
        const all = Array.from({ length: REBALANCE_PARTITIONS }, (_, i) => i);
        const sent: DeliveredRecord[] = [];
        const first = client.member("first", { topic: rebalanceTopic, group, "group-protocol": protocol });
        let second: GroupMemberProcess | undefined;
        const members = () => [first, ...(second ? [second] : [])];
        const receivedAll = (batch: DeliveredRecord[]) => () => {
          const seen = new Set(members().flatMap((m) => m.records.map(recordId)));
          return batch.every((r) => seen.has(recordId(r)));
        };
        try {
          await first.waitForAssignment(
            "the first member to own every partition",
            (p) => p.length === REBALANCE_PARTITIONS,
          );
          const batch1 = await produce(rebalanceTopic, 30, 0, "none");
          sent.push(...batch1);
          await first.waitFor("the first batch", receivedAll(batch1));

          second = client.member("second", { topic: rebalanceTopic, group, "group-protocol": protocol });
          const joined = second;
          await first.waitFor(
            "the partitions to be shared by both members",
            () => {
              const a = first.currentAssignment();
              const b = joined.currentAssignment();
              return (
                a.length > 0 &&
                b.length > 0 &&
                sorted([...a, ...b].map(String)).join() === sorted(all.map(String)).join()
              );
            },
            45_000,
          );
          const batch2 = await produce(rebalanceTopic, 30, 30, "none");
          sent.push(...batch2);
          await first.waitFor("the second batch, across both members", receivedAll(batch2));
          assert.ok(joined.records.length > 0, "the second member consumed records");

          await joined.stop();
          await first.waitForAssignment(
            "the first member to own every partition again",
            (p) => p.length === REBALANCE_PARTITIONS,
            45_000,
          );
          const batch3 = await produce(rebalanceTopic, 30, 60, "none");
          sent.push(...batch3);
          await first.waitFor("the third batch", receivedAll(batch3));
        } finally {
          await Promise.all(members().map((m) => m.stop()));
        }
        const consumed = members().flatMap((m) => m.records);
        const ids = consumed.map(recordId);
        assert.deepEqual(sorted(new Set(ids)), sorted(sent.map(recordId)), "every record consumed");
        assert.equal(ids.length, new Set(ids).size, "no committed record consumed twice");
        assert.ok(
          first.assignments.length >= 3,
          `first member's assignments changed: ${JSON.stringify(first.assignments)}`,
        );
        for (const member of members())
          assert.deepEqual(member.errors(), [], `${member.name} reported no errors`);
        await client.run("delete-topic", { topic: rebalanceTopic });
      });
    }

    it("describes and alters topic configs", async () => {
      const before = await client.run<{ configs: Record<string, string | null> }>("describe-config", {
        topic,
      });
      assert.match(before.configs["retention.ms"] ?? "", /^\d+$/);
      assert.notEqual(before.configs["retention.ms"], "3600000");
      let { configs } = await client.run<{ configs: Record<string, string | null> }>("alter-config", {
        topic,
        set: ["retention.ms=3600000", "max.message.bytes=2000000"],
      });
      // Brokers apply a change through the metadata log: one that has not read it yet answers the old value
      // for a moment, so the describe is repeated (bounded) until the change shows.
      const showsChange = () =>
        configs["retention.ms"] === "3600000" && configs["max.message.bytes"] === "2000000";
      for (const deadline = Date.now() + 15_000; !showsChange() && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        ({ configs } = await client.run<{ configs: Record<string, string | null> }>("describe-config", {
          topic,
        }));
      }
      assert.equal(configs["retention.ms"], "3600000");
      assert.equal(configs["max.message.bytes"], "2000000");
    });

    it("deletes the topic with the admin API", async () => {
      await client.run("delete-topic", { topic });
      const metadata = await client.run<MetadataResult>("metadata");
      assert.equal(metadata.topics[topic], undefined);
    });
  });
}
