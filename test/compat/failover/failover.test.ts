import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka } from "kafkajs";
import { eventually, type Gateway, startGateway } from "../gateway/environment.ts";
import { fastGroup, GroupMember, kafkaClient, recordsByPartition } from "../kafkajs/client.ts";

interface Acked {
  partition: number;
  offset: number;
  value: string;
}

describe("leader failover through the proxy (Kafka 4.4, 3 brokers)", { timeout: 300_000 }, () => {
  let gateway: Gateway;
  let kafka: Kafka;

  before(async () => {
    gateway = await startGateway({ brokers: 3, exclusive: true }); // brokers are killed and restarted
    kafka = kafkaClient(gateway.bootstrap, "compat-failover");
  });

  after(async () => {
    await gateway?.close();
  });

  it("every acknowledged record is consumed exactly once, in order, across a leader kill and restart", {
    timeout: 150_000,
  }, async () => {
    const topic = gateway.uniqueName("failover");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 3,
          replicationFactor: 3,
          configEntries: [{ name: "min.insync.replicas", value: "2" }],
        },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();

    // The broker to kill is named by its upstream id, so ask the cluster itself.
    const direct = kafkaClient(gateway.directBootstrap, "compat-failover-observer").admin();
    await direct.connect();
    const { topics } = await direct.fetchTopicMetadata({ topics: [topic] });
    await direct.disconnect();
    const victim = topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;

    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    await producer.connect();
    const member = new GroupMember(kafka, "failover-reader", fastGroup(gateway.uniqueName("failover")));
    await member.start(topic);

    const acked: Acked[] = [];
    let failedSends = 0;
    let producing = true;
    const producing$ = (async () => {
      for (let i = 0; producing; i++) {
        const value = `record-${i}`;
        try {
          const [result] = await producer.send({
            topic,
            acks: -1,
            timeout: 30_000,
            messages: [{ key: `key-${i % 9}`, value }],
          });
          acked.push({ partition: result!.partition, offset: Number(result!.baseOffset), value });
        } catch {
          failedSends++;
        }
        await sleep(5);
      }
    })();

    const phases: string[] = [];
    try {
      await sleep(3_000);
      const beforeKill = acked.length;
      await gateway.killBroker(victim);
      phases.push(`killed broker ${victim} after ${beforeKill} acks`);
      // Sends to the dead leader's partitions stall until the controller moves leadership (about 9 s).
      await eventually(
        `production to go on while broker ${victim} is down (${phases.join(", ")})`,
        () => (acked.length >= beforeKill + 100 ? true : undefined),
        60_000,
      );
      phases.push(`${acked.length - beforeKill} acks while it was down`);
      await gateway.restartBroker(victim);
      const afterRestart = acked.length;
      await eventually(
        `production to go on after broker ${victim} restarted`,
        () => (acked.length >= afterRestart + 100 ? true : undefined),
        30_000,
      );
      phases.push(`${acked.length - afterRestart} acks after the restart`);
    } finally {
      producing = false;
      await producing$;
      await producer.disconnect();
    }

    try {
      await member.waitForCount(acked.length, 60_000);
      await sleep(1_000);
    } finally {
      await member.stop();
    }

    // A consumer that restarts after a crash may see a record twice at the same offset; a record written
    // twice would sit at two offsets. Count distinct offsets.
    const offsetsOf = new Map<string, Set<string>>();
    for (const record of member.received) {
      const offsets = offsetsOf.get(record.value) ?? new Set<string>();
      offsets.add(`${record.partition}@${record.offset}`);
      offsetsOf.set(record.value, offsets);
    }
    const context = `${phases.join(", ")}; ${failedSends} failed sends; consumer restarts ${member.crashes}`;
    const lost = acked.filter((a) => !offsetsOf.has(a.value)).map((a) => a.value);
    const duplicated = acked.filter((a) => offsetsOf.get(a.value)!.size > 1).map((a) => a.value);
    assert.deepEqual(lost, [], `acknowledged records lost (${context})`);
    assert.deepEqual(duplicated, [], `acknowledged records written more than once (${context})`);

    const ackedValues = new Set(acked.map((a) => a.value));
    for (const [partition, records] of recordsByPartition(member.received)) {
      const byOffset = new Map(
        records.filter((r) => ackedValues.has(r.value)).map((r) => [r.offset, r.value]),
      );
      const consumedInOrder = [...byOffset].sort(([a], [b]) => a - b);
      const ackedInOrder = acked.filter((a) => a.partition === partition).map((a) => [a.offset, a.value]);
      assert.deepEqual(consumedInOrder, ackedInOrder, `order and offsets on partition ${partition}`);
    }
  });
});
