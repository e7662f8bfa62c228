/**
 * The admin API against a real broker and a real client (KafkaJS): the virtual-to-physical mapping, a consumer
 * group's members and its exact lag per virtual partition, the client connections, the config with its secrets
 * hidden, the admin token on state-changing calls, and readiness following the cluster down and back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";

const TOKEN = "admin-token-0123456789abcdef";
const WRONG_TOKEN = "admin-token-not-the-right-one";
const ENV_SECRET = "env-held-secret-value-42";
const VIRTUAL = 6;
const PHYSICAL = 2;
const PLAIN_PARTITIONS = 3;
const CONSUMER_CLIENT_ID = "admin-api-consumer";
/** Records per virtual partition before the consumer reads, and unread ones written after it stops. */
const FIRST = [5, 1, 7, 3, 2, 4];
const UNREAD = [3, 0, 9, 1, 0, 6];
const PLAIN_FIRST = [4, 4, 4];
const PLAIN_UNREAD = [2, 0, 5];

interface PartitionLag {
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number | null;
  lag: number | null;
  exact: boolean;
}
interface GroupView {
  group: string;
  state: string;
  type: string;
  protocolType: string;
  members: {
    memberId: string;
    clientId: string;
    host: string;
    assignment: { topic: string; partitions: number[] }[];
  }[];
  partitions: PartitionLag[];
  totalLag: number;
}

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let kafka: Kafka;
let producer: Producer;
let consumer: Consumer | undefined;
let virtualTopic: string;
let plainTopic: string;
let group: string;

/** Waits for a client's teardown at most `ms` (a client stuck retrying must not hold the test process). */
async function within(ms: number, pending: Promise<unknown> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    pending?.catch(() => {}),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** A probe's way to say what it saw when it is not there yet (waitFor reports the last one). */
function failWith(seen: unknown): undefined {
  throw new Error(`last seen: ${JSON.stringify(seen)}`);
}

const url = (path: string) => `http://127.0.0.1:${proxy.adminPort}${path}`;

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url(path));
  return { status: response.status, body: (await response.json()) as T };
}

async function produce(topic: string, counts: readonly number[], label: string): Promise<void> {
  const messages = counts.flatMap((count, partition) =>
    Array.from({ length: count }, (_, i) => ({ partition, value: `${topic}-${label}-${partition}-${i}` })),
  );
  await producer.send({ topic, acks: -1, messages });
}

function lagsOf(view: GroupView, topic: string): (number | null)[] {
  const partitions = view.partitions.filter((p) => p.topic === topic);
  return partitions.sort((a, b) => a.partition - b.partition).map((p) => p.lag);
}

describe("admin API", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster({ exclusive: true });
    virtualTopic = cluster.uniqueTopic("admin-virtual");
    plainTopic = cluster.uniqueTopic("admin-plain");
    group = cluster.uniqueTopic("admin-group");
    await cluster.createTopic(virtualTopic, { partitions: PHYSICAL });
    await cluster.createTopic(plainTopic, { partitions: PLAIN_PARTITIONS });
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      env: { KPP_TEST_ADMIN_TOKEN: TOKEN, KPP_TEST_SECRET: ENV_SECRET },
      extra: {
        admin: { token: "${KPP_TEST_ADMIN_TOKEN}" },
        virtual_cluster: { name: "ops-${KPP_TEST_SECRET}" },
        mapping: {
          topics: {
            [virtualTopic.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")]: {
              virtual_partitions: VIRTUAL,
              physical_partitions: PHYSICAL,
            },
          },
        },
      },
    });
    kafka = new Kafka({
      clientId: "admin-api-producer",
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    await within(10_000, consumer?.disconnect());
    await within(10_000, producer?.disconnect());
    await proxy?.stop();
  });

  test("/healthz and /readyz answer while the cluster is up", async () => {
    const health = await fetch(url("/healthz"));
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");
    const ready = await getJson<{
      ready: boolean;
      clusters: Record<string, { reachable: boolean; brokers: number }>;
    }>("/readyz");
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
    assert.equal(ready.body.clusters.default!.reachable, true);
    assert.equal(ready.body.clusters.default!.brokers, 1);
  });

  test("/api/topics shows the virtual-to-physical mapping and the leaders", async () => {
    const nodeId = cluster.brokers[0]!.id;
    const { status, body } = await getJson<{
      clusters: { name: string; reachable: boolean }[];
      topics: {
        topic: string;
        cluster: string;
        virtualized: boolean;
        virtualPartitions: number;
        physicalPartitions: number;
        k: number;
        rule: string | null;
        physicalLeaders: { partition: number; leader: number }[];
        partitions: { partition: number; physicalPartition: number; leader: number }[];
      }[];
    }>("/api/topics");
    assert.equal(status, 200);
    assert.deepEqual(body.clusters, [{ name: "default", reachable: true, brokers: 1 }]);
    const virtual = body.topics.find((t) => t.topic === virtualTopic);
    assert.ok(virtual, `${virtualTopic} is listed`);
    assert.equal(virtual.cluster, "default");
    assert.equal(virtual.virtualized, true);
    assert.equal(virtual.virtualPartitions, VIRTUAL);
    assert.equal(virtual.physicalPartitions, PHYSICAL);
    assert.equal(virtual.k, VIRTUAL / PHYSICAL);
    assert.ok(virtual.rule, "the rule that virtualizes it is named");
    assert.deepEqual(
      virtual.partitions,
      Array.from({ length: VIRTUAL }, (_, v) => ({
        partition: v,
        physicalPartition: v % PHYSICAL,
        leader: nodeId,
      })),
    );
    assert.deepEqual(
      virtual.physicalLeaders,
      Array.from({ length: PHYSICAL }, (_, p) => ({ partition: p, leader: nodeId })),
    );
    const plain = body.topics.find((t) => t.topic === plainTopic);
    assert.ok(plain, `${plainTopic} is listed`);
    assert.equal(plain.virtualized, false);
    assert.equal(plain.virtualPartitions, PLAIN_PARTITIONS);
    assert.equal(plain.physicalPartitions, PLAIN_PARTITIONS);
    assert.equal(plain.k, 1);
    assert.equal(plain.rule, null);
  });

  test("groups: members, assignment in virtual partitions, and exact lag per partition", async () => {
    await produce(virtualTopic, FIRST, "first");
    await produce(plainTopic, PLAIN_FIRST, "first");
    const total = FIRST.reduce((a, b) => a + b, 0) + PLAIN_FIRST.reduce((a, b) => a + b, 0);
    const seen = new Set<string>();
    consumer = new Kafka({
      clientId: CONSUMER_CLIENT_ID,
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: group, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: [virtualTopic, plainTopic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value!.toString());
      },
    });
    await waitFor(
      "the consumer to read every record",
      async () => (seen.size >= total ? true : undefined),
      60_000,
    );
    assert.equal(seen.size, total);

    const caughtUp = await waitFor(
      "the group's commits to reach the log ends",
      async () => {
        const { status, body } = await getJson<GroupView>(`/api/groups/${encodeURIComponent(group)}`);
        if (status !== 200) return undefined;
        const virtualLags = lagsOf(body, virtualTopic);
        const plainLags = lagsOf(body, plainTopic);
        const committedEverywhere = virtualLags.length === VIRTUAL && plainLags.length === PLAIN_PARTITIONS;
        return committedEverywhere &&
          [...virtualLags, ...plainLags].every((lag) => lag === 0) &&
          body.members.length === 1
          ? body
          : failWith(body);
      },
      60_000,
    );
    assert.equal(caughtUp.state, "Stable");
    assert.equal(caughtUp.protocolType, "consumer");
    assert.equal(caughtUp.type, "classic");
    const member = caughtUp.members[0]!;
    assert.equal(member.clientId, CONSUMER_CLIENT_ID);
    assert.ok(member.host.length > 0);
    const assigned = Object.fromEntries(member.assignment.map((a) => [a.topic, a.partitions]));
    assert.deepEqual(assigned[virtualTopic], [0, 1, 2, 3, 4, 5], "the assignment names virtual partitions");
    assert.deepEqual(assigned[plainTopic], [0, 1, 2]);
    assert.equal(caughtUp.totalLag, 0);
    for (const partition of caughtUp.partitions)
      assert.equal(partition.exact, true, JSON.stringify(partition));

    const listed = await getJson<{ groups: GroupView[] }>("/api/groups");
    assert.equal(listed.status, 200);
    assert.ok(listed.body.groups.some((g) => g.group === group && g.members.length === 1));

    const { body: connections } = await getJson<{
      connections: {
        clientId: string | null;
        address: string;
        listener: string;
        bytesIn: number;
        bytesOut: number;
        ageSeconds: number;
        requestsInFlight: number;
        principal: string | null;
      }[];
    }>("/api/connections");
    const mine = connections.connections.filter((c) => c.clientId === CONSUMER_CLIENT_ID);
    assert.ok(mine.length > 0, `the consumer's connections are listed: ${JSON.stringify(connections)}`);
    for (const connection of mine) {
      assert.match(connection.address, /^127\.0\.0\.1:\d+$/);
      assert.match(connection.listener, /^(bootstrap|node-\d+)$/);
      assert.ok(connection.bytesIn > 0 && connection.bytesOut > 0, JSON.stringify(connection));
      assert.ok(connection.ageSeconds >= 0);
      assert.ok(connection.requestsInFlight >= 0);
      assert.equal(connection.principal, null);
    }
    assert.ok(connections.connections.some((c) => c.clientId === "admin-api-producer"));

    await consumer.disconnect();
    consumer = undefined;
    await produce(virtualTopic, UNREAD, "unread");
    await produce(plainTopic, PLAIN_UNREAD, "unread");
    const behind = await waitFor(
      "the lag of the unread records",
      async () => {
        const { body } = await getJson<GroupView>(`/api/groups/${encodeURIComponent(group)}`);
        return body.members?.length === 0 && body.totalLag > 0 ? body : undefined;
      },
      30_000,
    );
    assert.equal(behind.state, "Empty");
    const expectedVirtual = UNREAD;
    assert.deepEqual(
      lagsOf(behind, virtualTopic),
      expectedVirtual,
      "lag per virtual partition = unread records",
    );
    assert.deepEqual(lagsOf(behind, plainTopic), PLAIN_UNREAD);
    const physicalEstimate = behind.partitions
      .filter((p) => p.topic === virtualTopic)
      .map((p) => p.logEndOffset! - p.committedOffset);
    assert.notDeepEqual(physicalEstimate, expectedVirtual, "the physical difference would over-count");
    assert.equal(
      behind.totalLag,
      expectedVirtual.reduce((a, b) => a + b, 0) + PLAIN_UNREAD.reduce((a, b) => a + b, 0),
    );

    const metrics = await waitFor(
      "the lag in /metrics",
      async () => {
        const text = await (await fetch(url("/metrics"))).text();
        return text.includes(
          `kafka_proxy_consumer_lag{group="${group}",topic="${virtualTopic}",partition="2"} ${UNREAD[2]}`,
        )
          ? text
          : undefined;
      },
      20_000,
    );
    UNREAD.forEach((unread, v) => {
      assert.ok(
        metrics.includes(
          `kafka_proxy_consumer_lag{group="${group}",topic="${virtualTopic}",partition="${v}"} ${unread}\n`,
        ),
        `lag of virtual partition ${v} in /metrics`,
      );
    });
    assert.match(metrics, /kafka_proxy_consumer_committed_offset\{/);

    const unknown = await getJson<{ error: string }>("/api/groups/no-such-group-here");
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no-such-group-here/);
  });

  test("/api/config shows the running config with every secret hidden", async () => {
    const response = await fetch(url("/api/config"));
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(TOKEN), "the admin token is not shown");
    assert.ok(!text.includes(ENV_SECRET), "a value from a secret-named environment variable is not shown");
    const config = JSON.parse(text) as {
      admin: { token: string };
      virtual_cluster: { name: string };
      kafka: { bootstrap_servers: string[] };
      mapping: { topics: Record<string, { virtual_partitions: number }> };
    };
    assert.equal(config.admin.token, "[redacted]");
    assert.equal(config.virtual_cluster.name, "ops-[redacted]");
    assert.deepEqual(config.kafka.bootstrap_servers, [cluster.bootstrap]);
    assert.equal(Object.values(config.mapping.topics)[0]!.virtual_partitions, VIRTUAL);
  });

  test("a state-changing call needs the admin token", async () => {
    const call = (authorization?: string) =>
      fetch(url("/api/metadata/refresh"), {
        method: "POST",
        headers: authorization ? { authorization } : {},
      });
    const without = await call();
    assert.equal(without.status, 401, "no token");
    assert.match(((await without.json()) as { error: string }).error, /admin token/);
    const wrong = await call(`Bearer ${WRONG_TOKEN}`);
    assert.equal(wrong.status, 401, "a wrong token");
    const right = await call(`Bearer ${TOKEN}`);
    const body = (await right.json()) as { refreshed: { cluster: string; ok: boolean }[] };
    assert.equal(right.status, 200, `the right token: ${JSON.stringify(body)}`);
    assert.deepEqual(
      body.refreshed.map((r) => [r.cluster, r.ok]),
      [["default", true]],
    );
    await waitFor(
      "the admin action in the log",
      async () => (proxy.logs().includes('"msg":"admin action"') ? true : undefined),
      5_000,
    );
  });

  test("the dashboard page is served", async () => {
    const response = await fetch(url("/"));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const html = await response.text();
    assert.match(html, /data-chart="topics"/);
    assert.ok(!html.includes("/*SCRIPT*/") && !html.includes("/*STYLE*/"), "script and style are inline");
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, "nothing is loaded from elsewhere");
  });

  test("/readyz turns 503 while the cluster is down and 200 once it is back", async () => {
    const brokerId = cluster.brokers[0]!.id;
    await cluster.killBroker(brokerId);
    try {
      const down = await waitFor(
        "/readyz to say not ready",
        async () => {
          const answer = await getJson<{ ready: boolean; clusters: Record<string, { reachable: boolean }> }>(
            "/readyz",
          );
          return answer.status === 503 ? answer : undefined;
        },
        60_000,
      );
      assert.equal(down.body.ready, false);
      assert.equal(down.body.clusters.default!.reachable, false);
    } finally {
      await cluster.restartBroker(brokerId);
    }
    const back = await waitFor(
      "/readyz to say ready again",
      async () => {
        const answer = await getJson<{ ready: boolean }>("/readyz");
        return answer.status === 200 ? answer : undefined;
      },
      90_000,
    );
    assert.equal(back.body.ready, true);
  });
});
