/**
 * Companion groups (`<group>.__kpp-vg.<g>`, where the offsets of virtual partitions v >= P live) are the
 * proxy's own: a client that names one is refused with GROUP_AUTHORIZATION_FAILED and nothing reaches the
 * brokers. Clients look the group's coordinator up first and meet the refusal there, as they would a group ACL
 * on a broker. Checked with librdkafka (confluent-kafka), KafkaJS and raw requests sent straight to the companion
 * group's coordinator through the proxy, against a 3-broker cluster; and the proxy's own companion commits
 * (the real group's v >= P) keep working.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiKey, ErrorCode, ZERO_UUID } from "../../../src/protocol/api.ts";
import { fastGroup } from "../../compat/kafkajs/client.ts";
import { runPythonJson } from "../../helpers/clients.ts";
import { RawKafkaClient } from "../../helpers/raw-kafka.ts";
import { createTopic, startVirtualEnvironment, type VirtualEnvironment } from "./acceptance-support.ts";

const V = 8;
const P = 4;
const SEPARATOR = ".__kpp-vg.";
const REFUSED = "GROUP_AUTHORIZATION_FAILED";
/** Versions of the raw requests: OffsetCommit naming topics, JoinGroup with a member id required. */
const RAW_OFFSET_COMMIT_VERSION = 8;
const RAW_JOIN_GROUP_VERSION = 5;
const RAW_FIND_COORDINATOR_VERSION = 4;

/** One confluent-kafka consumer: commits, reads committed offsets, or subscribes (join), printing one JSON line. */
const LIBRDKAFKA = `
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, KafkaException

bootstrap, group, topic, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
errors = []
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "session.timeout.ms": 10000, "auto.offset.reset": "earliest",
              "error_cb": lambda e: errors.append(e.name())})
out = {}

def poll_errors(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and m.error():
            errors.append(m.error().name())
            return

if mode == "commit":
    poll_errors(3)  # as an application would: consumer errors arrive through poll()
    offsets = [TopicPartition(topic, int(p), int(o)) for p, o in (x.split(":") for x in sys.argv[5:])]
    try:
        result = c.commit(offsets=offsets, asynchronous=False)
        out["commit"] = "ok"
        out["partitions"] = [[p.partition, p.error.name() if p.error else None] for p in result]
    except KafkaException as e:
        out["commit"] = e.args[0].name()
elif mode == "committed":
    result = c.committed([TopicPartition(topic, int(p)) for p in sys.argv[5:]], timeout=30)
    out["committed"] = [[p.partition, p.offset, p.error.name() if p.error else None] for p in result]
elif mode == "join":
    c.subscribe([topic])
    deadline = time.time() + 30
    out["assigned"] = False
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error():
            errors.append(m.error().name())
            break
        if c.assignment():
            out["assigned"] = True
            break
out["errors"] = errors
print(json.dumps(out), flush=True)
c.close()
`;

interface LibrdkafkaResult {
  commit?: string;
  partitions?: [number, string | null][];
  committed?: [number, number, string | null][];
  assigned?: boolean;
  errors: string[];
}

function librdkafka(bootstrap: string, group: string, topic: string, mode: string, ...args: string[]) {
  return runPythonJson<LibrdkafkaResult>(LIBRDKAFKA, [bootstrap, group, topic, mode, ...args], 90_000);
}

describe("companion groups: clients that name them are refused", { timeout: 420_000 }, () => {
  let env: VirtualEnvironment;
  let topic: string;
  let group: string;
  const companion = (g: number) => `${group}${SEPARATOR}${g}`;

  before(async () => {
    env = await startVirtualEnvironment(
      { "^vc-.*": { virtual_partitions: V, physical_partitions: P } },
      "companion-refusal",
    );
    topic = env.cluster.uniqueTopic("vc-companion");
    group = `${topic}-group`;
    await createTopic(env, topic, V);
  });

  after(async () => {
    await env?.close();
  });

  /**
   * What the brokers themselves hold for a group: committed offsets by physical partition (-1: none). Retried
   * while the offsets topic is still being created (the refused clients never made the brokers create it).
   */
  async function storedOffsets(groupId: string): Promise<Map<number, number>> {
    const admin = env.direct.admin();
    await admin.connect();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const [answer] = await admin.fetchOffsets({ groupId, topics: [topic] });
          return new Map(answer!.partitions.map((p) => [p.partition, Number(p.offset)]));
        } catch (error) {
          if (attempt >= 60) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** A raw connection to the proxy's port of the broker that coordinates `groupId`. */
  async function coordinatorThroughProxy(groupId: string): Promise<RawKafkaClient> {
    const direct = await RawKafkaClient.connect(env.cluster.bootstrap.split(",")[0]!);
    let nodeId: number;
    try {
      const found = await direct.request(ApiKey.FindCoordinator, RAW_FIND_COORDINATOR_VERSION, {
        key: "",
        keyType: 0,
        coordinatorKeys: [groupId],
      });
      assert.equal(found.coordinators[0].errorCode, ErrorCode.NONE);
      nodeId = found.coordinators[0].nodeId;
    } finally {
      direct.close();
    }
    return RawKafkaClient.connect(`127.0.0.1:${env.proxy.brokerPortBase + nodeId}`);
  }

  it("a librdkafka commit to <group>.__kpp-vg.1 is refused and commits nothing", async () => {
    const result = await librdkafka(env.proxy.bootstrap, companion(1), topic, "commit", "0:5", "1:6");
    assert.notEqual(result.commit, "ok", `the commit went through: ${JSON.stringify(result)}`);
    assert.ok(result.errors.includes(REFUSED), `librdkafka reported ${JSON.stringify(result)}`);
    const stored = await storedOffsets(companion(1));
    assert.deepEqual([stored.get(0), stored.get(1)], [-1, -1], "no offset reached the broker");
  });

  it("an OffsetCommit and a JoinGroup sent to the companion group's coordinator are refused", async () => {
    const client = await coordinatorThroughProxy(companion(2));
    try {
      const committed = await client.request(ApiKey.OffsetCommit, RAW_OFFSET_COMMIT_VERSION, {
        groupId: companion(2),
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: topic,
            topicId: ZERO_UUID,
            partitions: [
              { partitionIndex: 0, committedOffset: 7n, committedLeaderEpoch: -1, committedMetadata: "" },
            ],
          },
        ],
      });
      assert.deepEqual(
        committed.topics.map((t: { partitions: { errorCode: number }[] }) =>
          t.partitions.map((p) => p.errorCode),
        ),
        [[ErrorCode.GROUP_AUTHORIZATION_FAILED]],
      );
      const joined = await client.request(ApiKey.JoinGroup, RAW_JOIN_GROUP_VERSION, {
        groupId: companion(2),
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
        reason: null,
      });
      assert.equal(joined.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    } finally {
      client.close();
    }
    assert.equal((await storedOffsets(companion(2))).get(0), -1, "no offset reached the broker");
  });

  it("KafkaJS and librdkafka consumers cannot join a companion group", async () => {
    const consumer = env.kafka.consumer(fastGroup(companion(3)));
    const crashed = new Promise<Error>((resolve) =>
      consumer.on(consumer.events.CRASH, (event) => resolve(event.payload.error)),
    );
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      const error = await Promise.race([
        crashed,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 60_000)),
      ]);
      assert.ok(error, "the KafkaJS consumer joined a companion group");
      // KafkaJS drops the code of a refused FindCoordinator (GROUP_AUTHORIZATION_FAILED) and says only this.
      assert.equal(error.name, "KafkaJSGroupCoordinatorNotFound", String(error));
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }

    const joined = await librdkafka(env.proxy.bootstrap, companion(4), topic, "join");
    assert.equal(joined.assigned, false, "the librdkafka consumer got an assignment");
    assert.ok(joined.errors.includes(REFUSED), `librdkafka reported ${JSON.stringify(joined)}`);

    const admin = env.direct.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([companion(3), companion(4)]);
      for (const described of groups)
        assert.deepEqual(described.members, [], `${described.groupId} has no members`);
    } finally {
      await admin.disconnect();
    }
  });

  it("the real group's commits of v >= P still go to its companion groups and read back", async () => {
    const offsets = ["0:10", "3:13", "4:14", "7:17"];
    const committed = await librdkafka(env.proxy.bootstrap, group, topic, "commit", ...offsets);
    assert.equal(committed.commit, "ok", JSON.stringify(committed));
    assert.deepEqual(committed.partitions, [
      [0, null],
      [3, null],
      [4, null],
      [7, null],
    ]);
    const read = await librdkafka(env.proxy.bootstrap, group, topic, "committed", "0", "3", "4", "7");
    assert.deepEqual(read.committed, [
      [0, 10, null],
      [3, 13, null],
      [4, 14, null],
      [7, 17, null],
    ]);
    // v = 4 and v = 7 are p = 0 and p = 3 of virtual group 1: the proxy committed them under companion group 1.
    const stored = await storedOffsets(companion(1));
    assert.deepEqual([stored.get(0), stored.get(3)], [14, 17]);
  });

  it("each refusal is logged", () => {
    assert.match(env.proxy.logs(), /request naming a companion group refused/);
  });
});
