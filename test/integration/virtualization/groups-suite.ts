import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { companionGroupOf } from "../../../src/features/virtualization/groups/companion-groups.ts";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { type KafkaTestCluster, type KafkaVersion, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { RawKafkaClient } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";

const V = 32;
const P = 4;
const PREFIX = "vgroups";

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let second: ProxyProcess;
const clients: RawKafkaClient[] = [];

const virtualization = {
  mapping: { topics: { [`${PREFIX}-.*`]: { virtual_partitions: V, physical_partitions: P } } },
};

async function connect(address: string): Promise<RawKafkaClient> {
  const client = await RawKafkaClient.connect(address.split(",")[0]!);
  clients.push(client);
  return client;
}

/** A connection to the group's coordinator through `bootstrap` (a proxy or the cluster itself). */
async function coordinatorOf(bootstrap: string, group: string): Promise<RawKafkaClient> {
  const client = await connect(bootstrap);
  const coordinator = await waitFor(`coordinator of ${group}`, async () => {
    const answer = await client.request(ApiKey.FindCoordinator, 4, {
      key: "",
      keyType: 0,
      coordinatorKeys: [group],
    });
    const entry = answer.coordinators[0];
    return entry.errorCode === ErrorCode.NONE ? entry : undefined;
  });
  return connect(`${coordinator.host}:${coordinator.port}`);
}

/** The error codes of a coordinator that is loading or has moved: the request is sent again. */
const COORDINATOR_MOVING = new Set<number>([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
]);

/** Sends a group request to the group's coordinator, again while the coordinator moves or loads. */
async function toCoordinator(
  bootstrap: string,
  group: string,
  apiKey: number,
  version: number,
  body: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: generated message bodies
): Promise<any> {
  return waitFor(`api ${apiKey} for ${group}`, async () => {
    const coordinator = await coordinatorOf(bootstrap, group);
    const answer = await coordinator.request(apiKey, version, body, 60_000);
    let moving = false;
    JSON.stringify(answer, (key, value) => {
      if (key === "errorCode" && COORDINATOR_MOVING.has(value)) moving = true;
      return typeof value === "bigint" ? String(value) : value;
    });
    return moving ? undefined : answer;
  });
}

/** Waits until every group coordinator of the cluster answers (the offsets topic is created on first use). */
async function warmUpCoordinators(): Promise<void> {
  const groups = Array.from({ length: 200 }, (_, i) => `warm-up-${i}`);
  const client = await connect(cluster.bootstrap);
  await waitFor(
    "every group coordinator",
    async () => {
      const found = await client.request(ApiKey.FindCoordinator, 4, {
        key: "",
        keyType: 0,
        coordinatorKeys: groups,
      });
      const byNode = new Map<string, string[]>();
      for (const entry of found.coordinators) {
        if (entry.errorCode !== ErrorCode.NONE) return undefined;
        const address = `${entry.host}:${entry.port}`;
        byNode.set(address, [...(byNode.get(address) ?? []), entry.key]);
      }
      for (const [address, keys] of byNode) {
        const node = await connect(address);
        const answer = await node.request(ApiKey.OffsetFetch, 8, {
          groups: keys.map((groupId) => ({ groupId, memberId: null, memberEpoch: -1, topics: null })),
          requireStable: false,
        });
        node.close();
        if (answer.groups.some((g: { errorCode: number }) => g.errorCode !== ErrorCode.NONE))
          return undefined;
      }
      return true;
    },
    120_000,
  );
}

/** Waits until the group's coordinator has loaded (commits and joins right after cluster start may bounce). */
async function settle(group: string): Promise<void> {
  await toCoordinator(proxy.bootstrap, group, ApiKey.OffsetFetch, 8, {
    groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: null }],
    requireStable: false,
  });
}

async function createTopic(): Promise<string> {
  const topic = cluster.uniqueTopic(PREFIX);
  await cluster.createTopic(topic, { partitions: P, replicationFactor: 3 });
  const client = await connect(proxy.bootstrap);
  await waitFor(`${topic} in the proxy's metadata`, async () => {
    const answer = await client.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: "0".repeat(32), name: topic }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return answer.topics[0].errorCode === ErrorCode.NONE && answer.topics[0].partitions.length === V
      ? true
      : undefined;
  });
  // Every broker (each may coordinate a companion group) must know the new topic before commits are tried.
  for (const broker of cluster.brokers) {
    const direct = await connect(`127.0.0.1:${broker.port}`);
    await waitFor(`${topic} on broker ${broker.id}`, async () => {
      const answer = await direct.request(ApiKey.Metadata, 12, {
        topics: [{ topicId: "0".repeat(32), name: topic }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      return answer.topics[0].errorCode === ErrorCode.NONE && answer.topics[0].partitions.length === P
        ? true
        : undefined;
    });
    direct.close();
  }
  return topic;
}

async function topicIdOf(topic: string): Promise<string> {
  const seed = await connect(proxy.bootstrap);
  const metadata = await seed.request(ApiKey.Metadata, 12, {
    topics: [{ topicId: "0".repeat(32), name: topic }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  return metadata.topics[0].topicId as string;
}

const offsetOf = (v: number) => BigInt(1000 + v * 7);

interface Member {
  memberId: string;
  generationId: number;
}

function commitBody(
  group: string,
  member: Member | undefined,
  topic: string,
  partitions: number[],
  base = 0n,
) {
  return {
    groupId: group,
    generationIdOrMemberEpoch: member?.generationId ?? -1,
    memberId: member?.memberId ?? "",
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: topic,
        topicId: "",
        partitions: partitions.map((v) => ({
          partitionIndex: v,
          committedOffset: offsetOf(v) + base,
          committedLeaderEpoch: -1,
          committedMetadata: `m${v}`,
        })),
      },
    ],
  };
}

async function fetchOffsets(client: RawKafkaClient, group: string, topic: string, partitions: number[]) {
  const answer = await client.request(ApiKey.OffsetFetch, 8, {
    groups: [
      {
        groupId: group,
        memberId: null,
        memberEpoch: -1,
        topics: [{ name: topic, topicId: "", partitionIndexes: partitions }],
      },
    ],
    requireStable: false,
  });
  assert.equal(answer.groups[0].errorCode, ErrorCode.NONE);
  const offsets = new Map<number, bigint>();
  for (const p of answer.groups[0].topics[0].partitions) {
    assert.equal(p.errorCode, ErrorCode.NONE, `partition ${p.partitionIndex}`);
    offsets.set(p.partitionIndex, p.committedOffset);
  }
  return offsets;
}

const all = Array.from({ length: V }, (_, v) => v);

/** A classic member that joined and synced: JoinGroup twice (member id required), then SyncGroup. */
async function joinAndSync(client: RawKafkaClient, group: string, memberId = ""): Promise<Member> {
  const join = async (id: string) =>
    client.request(
      ApiKey.JoinGroup,
      5,
      {
        groupId: group,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        memberId: id,
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
        reason: null,
      },
      60_000,
    );
  let joined = await join(memberId);
  if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await join(joined.memberId);
  assert.equal(joined.errorCode, ErrorCode.NONE, "JoinGroup");
  const synced = await client.request(ApiKey.SyncGroup, 3, {
    groupId: group,
    generationId: joined.generationId,
    memberId: joined.memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [{ memberId: joined.memberId, assignment: Buffer.alloc(0) }],
  });
  assert.equal(synced.errorCode, ErrorCode.NONE, "SyncGroup");
  return { memberId: joined.memberId, generationId: joined.generationId };
}

async function listGroups(bootstrap: string): Promise<string[]> {
  const names: string[] = [];
  const seed = await connect(bootstrap);
  const metadata = await seed.request(ApiKey.Metadata, 12, {
    topics: [],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  for (const broker of metadata.brokers) {
    const client = await connect(`${broker.host}:${broker.port}`);
    const answer = await client.request(ApiKey.ListGroups, 4, { statesFilter: [], typesFilter: [] });
    for (const group of answer.groups) names.push(group.groupId);
  }
  return names;
}

/** The group-offset scenarios against a 3-broker cluster of `version`, through two proxy instances. */
export function describeGroupOffsets(version: KafkaVersion): void {
  describe(`consumer-group offsets of virtualized topics (Kafka ${version})`, { timeout: 300_000 }, () => {
    before(async () => {
      cluster = await useKafkaCluster({ brokers: 3, version });
      [proxy, second] = await Promise.all([
        startProxy({ upstream: cluster.bootstrap, extra: virtualization }),
        startProxy({ upstream: cluster.bootstrap, extra: virtualization }),
      ]);
      await warmUpCoordinators();
    });

    after(async () => {
      for (const client of clients) client.close();
      await Promise.all([proxy?.stop(), second?.stop()]);
    });

    test("commits on all 32 partitions read back through both proxies; v >= P live in companion groups", async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      const committed = await toCoordinator(
        proxy.bootstrap,
        group,
        ApiKey.OffsetCommit,
        8,
        commitBody(group, undefined, topic, all),
      );
      assert.deepEqual(
        committed.topics[0].partitions.map((p: { partitionIndex: number; errorCode: number }) => [
          p.partitionIndex,
          p.errorCode,
        ]),
        all.map((v) => [v, ErrorCode.NONE]),
      );
      for (const bootstrap of [proxy.bootstrap, second.bootstrap]) {
        const offsets = await fetchOffsets(await coordinatorOf(bootstrap, group), group, topic, all);
        for (const v of all) assert.equal(offsets.get(v), offsetOf(v), `v${v} through ${bootstrap}`);
      }

      const single = await (await coordinatorOf(second.bootstrap, group)).request(ApiKey.OffsetFetch, 7, {
        groupId: group,
        topics: [{ name: topic, partitionIndexes: [3, 4, 31] }],
        requireStable: true,
      });
      assert.equal(single.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        single.topics[0].partitions.map(
          (p: { partitionIndex: number; committedOffset: bigint; metadata: string }) => [
            p.partitionIndex,
            p.committedOffset,
            p.metadata,
          ],
        ),
        [3, 4, 31].map((v) => [v, offsetOf(v), `m${v}`]),
      );

      const everything = await (await coordinatorOf(proxy.bootstrap, group)).request(ApiKey.OffsetFetch, 8, {
        groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: null }],
        requireStable: false,
      });
      const listed = everything.groups[0].topics.find((t: { name: string }) => t.name === topic);
      assert.deepEqual(
        listed.partitions.map((p: { partitionIndex: number; committedOffset: bigint }) => [
          p.partitionIndex,
          p.committedOffset,
        ]),
        all.map((v) => [v, offsetOf(v)]),
      );

      const direct = await fetchOffsets(
        await coordinatorOf(cluster.bootstrap, group),
        group,
        topic,
        [0, 1, 2, 3],
      );
      for (let p = 0; p < P; p++) assert.equal(direct.get(p), offsetOf(p));
      const companion = companionGroupOf(group, 5);
      const stored = await fetchOffsets(
        await coordinatorOf(cluster.bootstrap, companion),
        companion,
        topic,
        [2],
      );
      assert.equal(stored.get(2), offsetOf(5 * P + 2));
    });

    test("topic ids: OffsetCommit and OffsetFetch v10, named partitions and all topics", {
      skip: version !== "4" && "OffsetCommit v10 needs Kafka 4",
    }, async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      const seed = await connect(proxy.bootstrap);
      const metadata = await seed.request(ApiKey.Metadata, 12, {
        topics: [{ topicId: "0".repeat(32), name: topic }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      const topicId = metadata.topics[0].topicId as string;
      const body = commitBody(group, undefined, topic, all);
      body.topics[0]!.topicId = topicId;
      const committed = await toCoordinator(second.bootstrap, group, ApiKey.OffsetCommit, 10, body);
      assert.equal(committed.topics[0].topicId, topicId);
      assert.ok(
        committed.topics[0].partitions.every((p: { errorCode: number }) => p.errorCode === ErrorCode.NONE),
      );

      const coordinator = await coordinatorOf(proxy.bootstrap, group);
      const named = await coordinator.request(ApiKey.OffsetFetch, 10, {
        groups: [
          {
            groupId: group,
            memberId: null,
            memberEpoch: -1,
            topics: [{ name: "", topicId, partitionIndexes: [0, 7, 30] }],
          },
        ],
        requireStable: true,
      });
      assert.equal(named.groups[0].topics[0].topicId, topicId);
      assert.deepEqual(
        named.groups[0].topics[0].partitions.map((p: { partitionIndex: number; committedOffset: bigint }) => [
          p.partitionIndex,
          p.committedOffset,
        ]),
        [0, 7, 30].map((v) => [v, offsetOf(v)]),
      );
      const everything = await coordinator.request(ApiKey.OffsetFetch, 10, {
        groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: null }],
        requireStable: false,
      });
      const listed = everything.groups[0].topics.find((t: { topicId: string }) => t.topicId === topicId);
      assert.deepEqual(
        listed.partitions.map((p: { partitionIndex: number }) => p.partitionIndex),
        all,
      );
    });

    test("companion groups are hidden from ListGroups and deleted with their group", async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      const coordinator = await coordinatorOf(proxy.bootstrap, group);
      const seeded = await toCoordinator(
        proxy.bootstrap,
        group,
        ApiKey.OffsetCommit,
        8,
        commitBody(group, undefined, topic, all),
      );
      assert.ok(
        seeded.topics[0].partitions.every((p: { errorCode: number }) => p.errorCode === ErrorCode.NONE),
      );
      const direct = await listGroups(cluster.bootstrap);
      assert.ok(direct.includes(companionGroupOf(group, 7)), "companions exist in the cluster");
      const seen = await listGroups(proxy.bootstrap);
      assert.ok(seen.includes(group));
      assert.ok(!seen.some((name) => name.startsWith(`${group}.`)), `companions listed: ${seen}`);
      const listedByTool = await cluster.toolOk("kafka-consumer-groups", ["--list"], {
        bootstrap: proxy.bootstrap,
      });
      assert.match(listedByTool, new RegExp(group));
      assert.doesNotMatch(listedByTool, /__kpp-vg/);

      const deleted = await coordinator.request(ApiKey.DeleteGroups, 2, { groupsNames: [group] });
      assert.equal(deleted.results[0].errorCode, ErrorCode.NONE);
      const after = await listGroups(cluster.bootstrap);
      assert.ok(
        !after.some((name) => name.startsWith(group)),
        `left behind: ${after.filter((n) => n.startsWith(group))}`,
      );
    });

    test("a member fenced by a newer generation moves no offset, with or without group-0 partitions", async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      await settle(group);
      const coordinator = await coordinatorOf(proxy.bootstrap, group);
      const first = await joinAndSync(coordinator, group);
      // A brand-new topic reaches every broker's metadata a moment later: the coordinators of the companion
      // groups may answer UNKNOWN_TOPIC_OR_PARTITION (retriable) until then, as they would to any client.
      let ok = await coordinator.request(ApiKey.OffsetCommit, 8, commitBody(group, first, topic, all));
      for (let attempt = 0; attempt < 50; attempt++) {
        if (
          !ok.topics[0].partitions.some(
            (p: { errorCode: number }) => p.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          )
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 200));
        ok = await coordinator.request(ApiKey.OffsetCommit, 8, commitBody(group, first, topic, all));
      }
      assert.ok(
        ok.topics[0].partitions.every((p: { errorCode: number }) => p.errorCode === ErrorCode.NONE),
        `commit errors: ${JSON.stringify(ok.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode))}`,
      );

      const current = await joinAndSync(coordinator, group, first.memberId);
      assert.ok(current.generationId > first.generationId);

      for (const partitions of [all, all.filter((v) => v >= P), [9]]) {
        const stale = await coordinator.request(
          ApiKey.OffsetCommit,
          8,
          commitBody(group, first, topic, partitions, 500n),
        );
        for (const p of stale.topics[0].partitions)
          assert.equal(p.errorCode, ErrorCode.ILLEGAL_GENERATION, `v${p.partitionIndex}`);
      }
      const topicId = await topicIdOf(topic);
      for (const commitVersion of version === "4" ? [9, 10] : [9]) {
        const body = commitBody(group, first, topic, [5, 22], 500n);
        body.topics[0]!.topicId = topicId;
        const stale = await coordinator.request(ApiKey.OffsetCommit, commitVersion, body);
        for (const p of stale.topics[0].partitions)
          assert.equal(p.errorCode, ErrorCode.ILLEGAL_GENERATION, `v${commitVersion}`);
      }
      const stranger = { memberId: "someone-else", generationId: current.generationId };
      const unknown = await coordinator.request(
        ApiKey.OffsetCommit,
        8,
        commitBody(group, stranger, topic, [17, 30], 500n),
      );
      for (const p of unknown.topics[0].partitions) assert.equal(p.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
      const unknownV9 = await coordinator.request(
        ApiKey.OffsetCommit,
        9,
        commitBody(group, stranger, topic, [17, 30], 500n),
      );
      for (const p of unknownV9.topics[0].partitions)
        assert.equal(p.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, "v9");
      const simple = await coordinator.request(
        ApiKey.OffsetCommit,
        8,
        commitBody(group, undefined, topic, [17, 30], 500n),
      );
      for (const p of simple.topics[0].partitions)
        assert.equal(p.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, "simple commit into a live group");

      const unchanged = await fetchOffsets(coordinator, group, topic, all);
      for (const v of all) assert.equal(unchanged.get(v), offsetOf(v), `v${v} moved`);

      const accepted = await coordinator.request(
        ApiKey.OffsetCommit,
        8,
        commitBody(group, current, topic, [12, 13], 500n),
      );
      for (const p of accepted.topics[0].partitions) assert.equal(p.errorCode, ErrorCode.NONE);
      const moved = await fetchOffsets(coordinator, group, topic, [12, 13]);
      assert.equal(moved.get(12), offsetOf(12) + 500n);

      const left = await coordinator.request(ApiKey.LeaveGroup, 3, {
        groupId: group,
        memberId: "",
        members: [{ memberId: current.memberId, groupInstanceId: null, reason: null }],
      });
      assert.equal(left.errorCode, ErrorCode.NONE);
    });

    test("OffsetDelete maps virtual partitions to the real and companion groups", async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      const coordinator = await coordinatorOf(proxy.bootstrap, group);
      const seeded = await toCoordinator(
        proxy.bootstrap,
        group,
        ApiKey.OffsetCommit,
        8,
        commitBody(group, undefined, topic, all),
      );
      assert.ok(
        seeded.topics[0].partitions.every((p: { errorCode: number }) => p.errorCode === ErrorCode.NONE),
      );
      const answer = await coordinator.request(ApiKey.OffsetDelete, 0, {
        groupId: group,
        topics: [{ name: topic, partitions: [{ partitionIndex: 1 }, { partitionIndex: 21 }] }],
      });
      assert.equal(answer.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        answer.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode),
        [ErrorCode.NONE, ErrorCode.NONE],
      );
      const fetched = await coordinator.request(ApiKey.OffsetFetch, 8, {
        groups: [
          {
            groupId: group,
            memberId: null,
            memberEpoch: -1,
            topics: [{ name: topic, topicId: "", partitionIndexes: [1, 5, 21, 25] }],
          },
        ],
        requireStable: false,
      });
      assert.deepEqual(
        fetched.groups[0].topics[0].partitions.map((p: { committedOffset: bigint }) => p.committedOffset),
        [-1n, offsetOf(5), -1n, offsetOf(25)],
      );
    });

    test("TxnOffsetCommit on a virtualized topic is refused for every partition", async () => {
      const topic = await createTopic();
      const client = await connect(proxy.bootstrap);
      const answer = await client.request(ApiKey.TxnOffsetCommit, 3, {
        transactionalId: "tx",
        groupId: `${topic}-g`,
        producerId: 1n,
        producerEpoch: 0,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [
          {
            name: topic,
            topicId: "",
            partitions: [
              { partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null },
            ],
          },
        ],
      });
      assert.equal(answer.topics[0].partitions[0].errorCode, ErrorCode.INVALID_REQUEST);
    });

    test("KIP-848 heartbeats get virtual assignments; ConsumerGroupDescribe shows them", {
      skip: version !== "4" && "the consumer group protocol is off by default before Kafka 4",
    }, async () => {
      const topic = await createTopic();
      const group = `${topic}-g`;
      await settle(group);
      const coordinator = await coordinatorOf(proxy.bootstrap, group);
      const memberId = "kpp-test-member-0000001";
      let epoch = 0;
      let owned: { topicId: string; partitions: number[] }[] = [];
      const assigned = await waitFor("a virtual assignment", async () => {
        const answer = await coordinator.request(ApiKey.ConsumerGroupHeartbeat, 0, {
          groupId: group,
          memberId,
          memberEpoch: epoch,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: epoch === 0 ? 30_000 : -1,
          subscribedTopicNames: epoch === 0 ? [topic] : null,
          subscribedTopicRegex: null,
          serverAssignor: null,
          topicPartitions: owned,
        });
        assert.equal(answer.errorCode, ErrorCode.NONE, answer.errorMessage ?? "");
        epoch = answer.memberEpoch;
        if (answer.assignment) owned = answer.assignment.topicPartitions;
        const partitions = owned.flatMap((t) => t.partitions);
        return partitions.length > 0 ? partitions : undefined;
      });
      assert.deepEqual(
        [...assigned].sort((a, b) => a - b),
        all,
      );

      const described = await coordinator.request(ApiKey.ConsumerGroupDescribe, 0, {
        groupIds: [group],
        includeAuthorizedOperations: false,
      });
      const member = described.groups[0].members[0];
      assert.deepEqual(member.assignment.topicPartitions[0].partitions, all);

      const commit = await coordinator.request(ApiKey.OffsetCommit, 9, {
        ...commitBody(group, { memberId, generationId: epoch }, topic, all),
      });
      assert.ok(
        commit.topics[0].partitions.every((p: { errorCode: number }) => p.errorCode === ErrorCode.NONE),
      );
      const stale = await coordinator.request(
        ApiKey.OffsetCommit,
        9,
        commitBody(group, { memberId, generationId: epoch + 5 }, topic, [20], 9n),
      );
      assert.notEqual(stale.topics[0].partitions[0].errorCode, ErrorCode.NONE);
      const simple = await coordinator.request(
        ApiKey.OffsetCommit,
        9,
        commitBody(group, undefined, topic, [20, 21], 9n),
      );
      for (const p of simple.topics[0].partitions)
        assert.equal(p.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, "simple commit into a live group");
      const offsets = await fetchOffsets(coordinator, group, topic, all);
      for (const v of all) assert.equal(offsets.get(v), offsetOf(v));

      await coordinator.request(ApiKey.ConsumerGroupHeartbeat, 0, {
        groupId: group,
        memberId,
        memberEpoch: -1,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: -1,
        subscribedTopicNames: null,
        subscribedTopicRegex: null,
        serverAssignor: null,
        topicPartitions: null,
      });
    });
  });
}
