import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { API_KEYS } from "../../../src/protocol/generated/api-keys.ts";
import { buildBatch, iterateBatches, RecordBatchView } from "../../../src/records/index.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch, RawKafkaClient } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
const upstreamPorts = new Set<number>();

/** A new 1-partition topic and its leader, as the Metadata of the proxy at `bootstrap` reports it. */
async function singlePartitionTopic(
  prefix: string,
  bootstrap = proxy.bootstrap,
): Promise<{ topic: string; leader: number }> {
  const topic = cluster.uniqueTopic(prefix);
  await cluster.createTopic(topic);
  const leader = await waitFor("topic leader", async () => {
    const client = await RawKafkaClient.connect(bootstrap);
    const body = await client.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: "0".repeat(32), name: topic }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    client.close();
    const leaderId = body.topics[0]?.partitions[0]?.leaderId as number | undefined;
    return leaderId !== undefined && leaderId >= 0 ? leaderId : undefined;
  });
  return { topic, leader };
}

async function streamedFetches(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
  const match = /^kpp_responses_streamed_total\{api="Fetch"\} (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

interface AdminStatus {
  nodes: { nodeId: number; live: boolean; proxyPort: number | null }[];
}

async function adminStatus(adminPort = proxy.adminPort): Promise<AdminStatus> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/admin/status`);
  return (await response.json()) as AdminStatus;
}

describe("gateway addressing against a 3-broker cluster", { timeout: 240_000 }, () => {
  before(async () => {
    // exclusive: kills and restarts a broker
    cluster = await useKafkaCluster({ brokers: 3, exclusive: true });
    for (const broker of cluster.brokers) upstreamPorts.add(broker.port);
    proxy = await startProxy({ upstream: cluster.bootstrap, brokerIdBase: 1 });
  });

  after(async () => {
    await proxy?.stop();
  });

  test("Metadata at every version names only the proxy's addresses", async () => {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const metadata = API_KEYS.find((api) => api.apiKey === ApiKey.Metadata)!;
    for (let version = metadata.minVersion; version <= metadata.maxVersion; version++) {
      const body = await client.request(ApiKey.Metadata, version, {
        topics: version === 0 ? [] : null,
        allowAutoTopicCreation: version < 4,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(body.brokers.length, 3, `v${version}`);
      for (const broker of body.brokers) {
        assert.equal(broker.host, "127.0.0.1");
        assert.equal(
          broker.port,
          proxy.brokerPortBase + broker.nodeId - 1,
          `v${version} node ${broker.nodeId}`,
        );
        assert.ok(!upstreamPorts.has(broker.port));
      }
    }
    client.close();
  });

  test("FindCoordinator v0-3 and batched v4+ name the proxy's addresses", async () => {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const info = API_KEYS.find((api) => api.apiKey === ApiKey.FindCoordinator)!;
    for (let version = info.minVersion; version <= info.maxVersion; version++) {
      const group = `coordinator-probe-${version}`;
      const body = await waitFor(`coordinator v${version}`, async () => {
        const answer = await client.request(
          ApiKey.FindCoordinator,
          version,
          version >= 4 ? { keyType: 0, coordinatorKeys: [group] } : { key: group, keyType: 0 },
        );
        const entry = version >= 4 ? answer.coordinators[0] : answer;
        return entry.errorCode === ErrorCode.NONE ? entry : undefined;
      });
      assert.equal(body.host, "127.0.0.1");
      assert.equal(body.port, proxy.brokerPortBase + body.nodeId - 1);
    }
    client.close();
  });

  test("DescribeCluster names the proxy's addresses", async () => {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const body = await client.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    assert.equal(body.errorCode, ErrorCode.NONE);
    assert.equal(body.brokers.length, 3);
    for (const broker of body.brokers) assert.equal(broker.port, proxy.brokerPortBase + broker.brokerId - 1);
    client.close();
  });

  test("ApiVersions advertises only versions the codec knows; a too-new request gets UNSUPPORTED_VERSION", async () => {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const body = await client.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: "raw",
      clientSoftwareVersion: "1",
    });
    assert.equal(body.errorCode, ErrorCode.NONE);
    const known = new Map(API_KEYS.map((api) => [api.apiKey, api]));
    assert.ok(body.apiKeys.length > 40);
    for (const entry of body.apiKeys) {
      const own = known.get(entry.apiKey);
      assert.ok(own, `advertised unknown api key ${entry.apiKey}`);
      assert.ok(entry.maxVersion <= own.maxVersion && entry.minVersion >= own.minVersion);
    }
    client.close();

    const own = known.get(ApiKey.ApiVersions)!;
    const tooNew = await RawKafkaClient.connect(proxy.bootstrap);
    const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2);
    frame.writeInt32BE(frame.length - 4, 0);
    frame.writeInt16BE(ApiKey.ApiVersions, 4);
    frame.writeInt16BE(own.maxVersion + 1, 6);
    frame.writeInt32BE(77, 8);
    frame.writeInt16BE(-1, 12);
    const answer = await new Promise<Buffer>((resolve) => {
      tooNew.socket.removeAllListeners("data");
      tooNew.socket.once("data", (chunk: Buffer) => resolve(chunk));
      tooNew.socket.write(frame);
    });
    assert.equal(answer.readInt32BE(4), 77);
    assert.equal(answer.readInt16BE(8), ErrorCode.UNSUPPORTED_VERSION);
    tooNew.close();
  });

  test("Produce with acks=0 gets no response and later responses stay in order", async () => {
    const { leader } = await singlePartitionTopic("acks0");
    const client = await RawKafkaClient.connect(`127.0.0.1:${proxy.brokerPortBase + leader - 1}`);
    client.send(ApiKey.Produce, 9, { transactionalId: null, acks: 0, timeoutMs: 5000, topicData: [] });
    const versions = await client.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: "raw",
      clientSoftwareVersion: "1",
    });
    assert.equal(versions.errorCode, ErrorCode.NONE);
    assert.deepEqual(client.unexpected, []);
    client.close();
  });

  test("a Fetch response of megabytes streams through cut-through, byte for byte what the broker sent", async () => {
    const { topic, leader } = await singlePartitionTopic("cut-through");
    const value = Buffer.alloc(1000, 7);
    const batches = Array.from({ length: 8 }, () =>
      buildBatch({ records: Array.from({ length: 250 }, (_, i) => ({ offsetDelta: i, value })) }),
    );
    const viaProxy = await RawKafkaClient.connect(`127.0.0.1:${proxy.brokerPortBase + leader - 1}`);
    for (const records of batches) {
      const produced = await viaProxy.request(ApiKey.Produce, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
      });
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    }
    const streamedBefore = await streamedFetches();
    const fetchRequest = onePartitionFetch(topic, 0, 0n, 16 << 20);
    const proxied = await viaProxy.request(ApiKey.Fetch, 11, fetchRequest);
    viaProxy.close();
    const broker = cluster.brokers.find((b) => b.id === leader)!;
    const direct = await RawKafkaClient.connect(`127.0.0.1:${broker.port}`);
    const expected = await direct.request(ApiKey.Fetch, 11, fetchRequest);
    direct.close();
    const records = proxied.responses[0].partitions[0].records as Buffer;
    assert.ok(records.length > 1_900_000, `${records.length} bytes fetched`);
    assert.ok(records.equals(expected.responses[0].partitions[0].records));
    assert.ok((await streamedFetches()) > streamedBefore, "the response was streamed");
    const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
    for (const histogram of ["kpp_request_seconds", "kpp_upstream_seconds"]) {
      const count = new RegExp(`^${histogram}_count\\{api="Fetch"\\} (\\d+)`, "m").exec(text);
      assert.ok(Number(count?.[1]) >= 1, `${histogram} counts the fetch`);
    }
  });

  test("large Produce requests in flight together and Fetch v17 responses, read into pooled buffers, arrive byte for byte", async () => {
    const { topic, leader } = await singlePartitionTopic("pooled");
    const viaProxy = await RawKafkaClient.connect(`127.0.0.1:${proxy.brokerPortBase + leader - 1}`);
    const requests = Array.from({ length: 12 }, (_, request) => {
      const value = Buffer.alloc(1000, request + 1);
      const count = 100 + ((request * 37) % 200);
      return buildBatch({ records: Array.from({ length: count }, (_, i) => ({ offsetDelta: i, value })) });
    });
    const produced = await Promise.all(
      requests.map((records) =>
        viaProxy.request(ApiKey.Produce, 9, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 10_000,
          topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
        }),
      ),
    );
    for (const response of produced)
      assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    const metadata = await viaProxy.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: "0".repeat(32), name: topic }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const topicId = metadata.topics[0].topicId as string;
    const broker = cluster.brokers.find((b) => b.id === leader)!;
    const direct = await RawKafkaClient.connect(`127.0.0.1:${broker.port}`);
    let fetchOffset = 0n;
    for (let round = 0; round < 2; round++) {
      const request = onePartitionFetch(topic, 0, fetchOffset, 1 << 20);
      const fetchById = { ...request, topics: [{ ...request.topics[0]!, topicId }] };
      const [proxied, expected] = await Promise.all([
        viaProxy.request(ApiKey.Fetch, 17, fetchById),
        direct.request(ApiKey.Fetch, 17, fetchById),
      ]);
      const records = proxied.responses[0].partitions[0].records as Buffer;
      assert.ok(records.length > 64 * 1024, `round ${round}: ${records.length} bytes fetched`);
      assert.ok(
        records.equals(expected.responses[0].partitions[0].records),
        `round ${round}: same bytes as direct`,
      );
      const whole = [...iterateBatches(records)].filter((b) => b instanceof RecordBatchView);
      fetchOffset = whole[whole.length - 1]!.lastOffset + 1n;
    }
    const metrics = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
    const reused = /^kpp_frame_pool_reused_total (\d+)/m.exec(metrics);
    assert.ok(Number(reused?.[1]) > 0, "frames were read into buffers given back to the pool");
    const stored = Buffer.concat(requests.map((batch) => batch.subarray(61)));
    const fetchedAll = await direct.request(ApiKey.Fetch, 11, onePartitionFetch(topic, 0, 0n, 16 << 20));
    const values = [...iterateBatches(fetchedAll.responses[0].partitions[0].records as Buffer)]
      .filter((b) => b instanceof RecordBatchView)
      .map((b) => b.buffer.subarray(61));
    assert.ok(Buffer.concat(values).equals(stored), "the broker stored every request's records as sent");
    viaProxy.close();
    direct.close();
  });

  test("a streamed Fetch v17 response names the proxy in the leader endpoints of its tagged fields", async () => {
    const { topic, leader } = await singlePartitionTopic("streamed-tail");
    let elsewhere = await singlePartitionTopic("led-elsewhere");
    for (let attempt = 0; elsewhere.leader === leader && attempt < 8; attempt++) {
      elsewhere = await singlePartitionTopic("led-elsewhere");
    }
    assert.notEqual(elsewhere.leader, leader, "a topic led by another broker");
    const viaProxy = await RawKafkaClient.connect(`127.0.0.1:${proxy.brokerPortBase + leader - 1}`);
    const value = Buffer.alloc(1000, 5);
    const produced = await viaProxy.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [
        {
          name: topic,
          partitionData: [
            {
              index: 0,
              records: buildBatch({
                records: Array.from({ length: 500 }, (_, i) => ({ offsetDelta: i, value })),
              }),
            },
          ],
        },
      ],
    });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    const metadata = await viaProxy.request(ApiKey.Metadata, 12, {
      topics: [topic, elsewhere.topic].map((name) => ({ topicId: "0".repeat(32), name })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const idOf = (name: string) =>
      metadata.topics.find((t: { name: string }) => t.name === name).topicId as string;
    const request = onePartitionFetch(topic, 0, 0n, 1 << 20);
    const fetchBoth = {
      ...request,
      topics: [
        { ...request.topics[0]!, topicId: idOf(topic) },
        { ...request.topics[0]!, topic: elsewhere.topic, topicId: idOf(elsewhere.topic) },
      ],
    };
    const streamedBefore = await streamedFetches();
    const proxied = await viaProxy.request(ApiKey.Fetch, 17, fetchBoth);
    viaProxy.close();
    assert.ok((await streamedFetches()) > streamedBefore, "the response was streamed");
    const [ours, theirs] = proxied.responses;
    assert.ok((ours.partitions[0].records as Buffer).length > 400_000, "the records came through");
    assert.equal(theirs.partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(theirs.partitions[0].currentLeader.leaderId, elsewhere.leader);
    assert.deepEqual(
      proxied.nodeEndpoints.map((e: { nodeId: number; host: string; port: number }) => [
        e.nodeId,
        e.host,
        e.port,
      ]),
      [[elsewhere.leader, "127.0.0.1", proxy.brokerPortBase + elsewhere.leader - 1]],
    );
  });

  test("a broker that leaves keeps its listener while it lingers, and loses it once the linger is over", async () => {
    const victim = 3;
    const port = proxy.brokerPortBase + victim - 1;
    const brief = await startProxy({
      upstream: cluster.bootstrap,
      brokerIdBase: 1,
      extra: { listen: { departed_broker_linger_secs: 0 } },
    });
    const briefPort = brief.brokerPortBase + victim - 1;
    try {
      await cluster.killBroker(victim);
      await waitFor("broker marked departed", async () => {
        const status = await adminStatus(proxy.adminPort);
        return status.nodes.some((b) => b.nodeId === victim && !b.live) ? true : undefined;
      });
      const lingering = await RawKafkaClient.connect(`127.0.0.1:${port}`, 2000);
      lingering.close();
      await waitFor("listener closed without linger", async () => {
        const status = await adminStatus(brief.adminPort);
        return status.nodes.some((b) => b.nodeId === victim) ? undefined : true;
      });
      await assert.rejects(RawKafkaClient.connect(`127.0.0.1:${briefPort}`, 2000));
      await cluster.restartBroker(victim);
      for (const [instance, victimPort] of [
        [proxy, port],
        [brief, briefPort],
      ] as const) {
        await waitFor("broker live again", async () => {
          const status = await adminStatus(instance.adminPort);
          return status.nodes.some((b) => b.nodeId === victim && b.live && b.proxyPort === victimPort)
            ? true
            : undefined;
        });
        const body = await waitFor("broker answering", async () => {
          const client = await RawKafkaClient.connect(`127.0.0.1:${victimPort}`, 2000);
          try {
            return await client.request(ApiKey.ApiVersions, 3, {
              clientSoftwareName: "raw",
              clientSoftwareVersion: "1",
            });
          } finally {
            client.close();
          }
        });
        assert.equal(body.errorCode, ErrorCode.NONE);
      }
    } finally {
      await brief.stop();
    }
  });

  test("graceful shutdown answers in-flight requests, then exits", async () => {
    const own = await startProxy({ upstream: cluster.bootstrap, brokerIdBase: 1 });
    const { topic, leader } = await singlePartitionTopic("drain", own.bootstrap);
    const client = await RawKafkaClient.connect(`127.0.0.1:${own.brokerPortBase + leader - 1}`);
    const longPoll = client.request(
      ApiKey.Fetch,
      12,
      { ...onePartitionFetch(topic, 0, 0n, 1 << 20), maxWaitMs: 3000, minBytes: 1, maxBytes: 1 << 20 },
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    const exited = own.stop("SIGTERM");
    const body = await longPoll;
    assert.equal(body.responses[0].partitions[0].errorCode, ErrorCode.NONE);
    assert.ok(Date.now() - started > 1000, "the long poll was answered by the broker, not cut short");
    assert.equal(await exited, 0);
    await client.closed;
    assert.match(own.logs(), /shutting down/);
  });
});
