/**
 * Abuse against the live proxy and a real broker: each abuse runs while a well-behaved producer keeps
 * producing, the proxy's RSS is sampled, and the test asserts a memory ceiling, that the proxy lives, and that
 * the well-behaved client got every answer. Its rate and latency are reported (`t.diagnostic`).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it, type TestContext } from "node:test";
import { idleClients } from "../../../bench/gateway/probes.ts";
import { ApiKey, apiInfo, ErrorCode, lastVersion, ZERO_UUID } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { buildBatch } from "../../../src/records/index.ts";
import { describeReport, RssSampler, rssMb, steadyProducer } from "../../helpers/abuse.ts";
import { connectFrom } from "../../helpers/client-sockets.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch, RawKafkaClient } from "../../helpers/raw-kafka.ts";

const MIB = 1024 * 1024;
const PRODUCE_BY_NAME = lastVersion("ProduceRequest", "topicData.name")!;
const FETCH_BY_NAME = lastVersion("FetchRequest", "topics.topic")!;
const VIRTUAL = "ab-virtual";
const PLAIN = "ab-plain";
const ABUSE_MS = 6000;
const IDLE_CONNECTIONS = 10_000;
const FLOOD_ADDRESS = "127.0.0.3";
const FLOOD_CAP = 100;
/** The default: it also covers the 10,000 idle clients' ApiVersions exchanges on a busy machine. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;

describe("abuse: memory stays bounded and other clients are served", { timeout: 600_000 }, () => {
  let cluster: KafkaTestCluster;
  let proxy: ProxyProcess;

  before(async () => {
    cluster = await useKafkaCluster({ brokers: 1 });
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: {
        mapping: { topics: { [`^${VIRTUAL}$`]: { virtual_partitions: 8, physical_partitions: 2 } } },
        logging: { level: "warn", json: true },
        listen: {
          max_connections: IDLE_CONNECTIONS + 2_000,
          max_connections_per_ip_overrides: {
            "127.0.0.1": IDLE_CONNECTIONS + 1_000,
            [FLOOD_ADDRESS]: FLOOD_CAP,
          },
          first_frame_timeout_ms: FIRST_FRAME_TIMEOUT_MS,
        },
      },
    });
    await cluster.createTopic(PLAIN);
    await cluster.createTopic(VIRTUAL, { partitions: 2 });
    // 16 MiB for v = 0 (on p = 0) and nothing for its neighbours.
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    try {
      for (let i = 0; i < 32; i++) {
        const records = buildBatch({
          records: Array.from({ length: 32 }, (_, r) => ({ value: Buffer.alloc(16 * 1024, (i + r) & 0xff) })),
        });
        const answer = await client.request(ApiKey.Produce, PRODUCE_BY_NAME, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 10_000,
          topicData: [{ name: VIRTUAL, topicId: ZERO_UUID, partitionData: [{ index: 0, records }] }],
        });
        assert.equal(answer.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
      }
    } finally {
      client.close();
    }
  });

  after(async () => {
    await proxy?.stop();
  });

  /** Runs `abuse` for about ABUSE_MS beside a well-behaved producer; checks the ceiling and the proxy's life. */
  async function underAbuse(
    t: TestContext,
    name: string,
    ceilingMb: number,
    abuse: (until: Promise<void>) => Promise<void>,
    durationMs = ABUSE_MS,
  ): Promise<void> {
    const pid = proxy.process.pid!;
    const baselineMb = rssMb(pid);
    const sampler = new RssSampler(pid);
    let end!: () => void;
    const until = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(end, durationMs);
    const [report] = await Promise.all([steadyProducer(proxy.bootstrap, PLAIN, until), abuse(until)]);
    clearTimeout(timer);
    const peakMb = sampler.stop();
    t.diagnostic(describeReport(name, report, baselineMb, peakMb));
    assert.equal(proxy.process.exitCode, null, "the proxy lives");
    assert.deepEqual(report.errors, [], "the well-behaved producer got an answer to every request");
    assert.ok(report.requests > 20, `the well-behaved producer was served (${report.requests} requests)`);
    assert.ok(
      peakMb - baselineMb < ceilingMb,
      `${name}: RSS grew ${Math.round(peakMb - baselineMb)} MB, above the ${ceilingMb} MB ceiling`,
    );
  }

  /** How many requests of `api` the proxy has read, from its metrics. */
  async function requestsRead(api: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
    const match = new RegExp(`^kpp_requests_total\\{[^}]*api="${api}"[^}]*\\} (\\d+)`, "m").exec(text);
    return match ? Number(match[1]) : 0;
  }

  it("a client that pipelines virtualized Fetches and never reads: the proxy stops taking them", async (t) => {
    const fetchesBefore = await requestsRead("Fetch");
    let fetchesRead = 0;
    await underAbuse(t, "pipelined virtualized fetches, never read", 96, async (until) => {
      const socket = net.connect({ host: "127.0.0.1", port: proxy.port });
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.on("error", () => {});
      socket.pause();
      const fetches = Array.from({ length: 500 }, (_, i) =>
        encodeRequest(
          { apiKey: ApiKey.Fetch, apiVersion: FETCH_BY_NAME, correlationId: i + 1, clientId: "abuser" },
          { ...onePartitionFetch(VIRTUAL, 0, 0n, MIB), maxBytes: 50 * MIB },
        ),
      );
      socket.write(Buffer.concat(fetches));
      await until;
      fetchesRead = (await requestsRead("Fetch")) - fetchesBefore;
      socket.destroy();
    });
    t.diagnostic(`the proxy read ${fetchesRead} of the 500 pipelined fetches`);
    assert.ok(fetchesRead < 50, `${fetchesRead} of 500 pipelined fetches were taken`);
  });

  it("a gzip bomb produced to a virtualized topic is refused with MESSAGE_TOO_LARGE, fast", async (t) => {
    const bomb = buildBatch({ compression: "gzip", records: [{ value: Buffer.alloc(256 * MIB) }] });
    assert.ok(bomb.length < 2 * MIB, `a ${bomb.length}-byte batch`);
    const refusalsMs: number[] = [];
    // Each refused bomb leaves up to mapping.max_decompressed_batch_bytes (16 MiB) of output for the collector.
    await underAbuse(t, "gzip bombs (256 MiB each)", 224, async (until) => {
      const client = await RawKafkaClient.connect(proxy.bootstrap);
      let stopped = false;
      void until.then(() => {
        stopped = true;
      });
      try {
        while (!stopped) {
          const sentAt = performance.now();
          const answer = await client.request(ApiKey.Produce, PRODUCE_BY_NAME, {
            transactionalId: null,
            acks: -1,
            timeoutMs: 10_000,
            topicData: [{ name: VIRTUAL, topicId: ZERO_UUID, partitionData: [{ index: 1, records: bomb }] }],
          });
          refusalsMs.push(performance.now() - sentAt);
          assert.equal(answer.responses[0].partitionResponses[0].errorCode, ErrorCode.MESSAGE_TOO_LARGE);
        }
      } finally {
        client.close();
      }
    });
    const sorted = [...refusalsMs].sort((a, b) => a - b);
    t.diagnostic(`${sorted.length} bombs refused, median ${Math.round(sorted[sorted.length >> 1]!)} ms each`);
    assert.ok(sorted.length > 0);
  });

  it("a 100 MiB intercepted request of minimal entries closes that connection, and nothing else", async (t) => {
    const version = apiInfo(ApiKey.DeleteGroups)!.maxVersion;
    const frameBytes = 100 * MIB;
    const head = encodeRequest(
      { apiKey: ApiKey.DeleteGroups, apiVersion: version, correlationId: 1, clientId: "abuser" },
      { groupsNames: [] },
    );
    // The header, then a compact array of (frameBytes - header) empty names: one 0x01 byte each.
    const headerBytes = head.length - 4 - 2; // without the length prefix, the empty array and the tagged fields
    const frame = Buffer.alloc(4 + frameBytes, 0x01);
    head.copy(frame, 0, 0, 4 + headerBytes);
    const entries = frameBytes - headerBytes - 5; // a 4-byte count, the entries, one tagged-fields byte
    let offset = 4 + headerBytes;
    for (let value = entries + 1; ; ) {
      const byte = value & 0x7f;
      value >>>= 7;
      frame[offset++] = value > 0 ? byte | 0x80 : byte;
      if (value === 0) break;
    }
    frame[frame.length - 1] = 0; // the body's tagged fields
    frame.writeInt32BE(frameBytes, 0);
    let closedAfterMs = Number.NaN;
    // The frame is received whole (max_frame_bytes allows 100 MiB) and joined once: twice its size at most.
    await underAbuse(t, "a 100 MiB DeleteGroups of empty names", 320, async () => {
      const socket = net.connect({ host: "127.0.0.1", port: proxy.port });
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.on("error", () => {});
      const sentAt = performance.now();
      socket.write(frame);
      await new Promise<void>((resolve) => socket.once("close", () => resolve()));
      closedAfterMs = performance.now() - sentAt;
    });
    t.diagnostic(
      `the abuser's connection was closed ${Math.round(closedAfterMs)} ms after it started sending`,
    );
    assert.match(proxy.logs(), /more than 262144 array elements/);
  });

  it("slowloris: connections that trickle a frame a byte at a time are cut at the first-frame timeout", async (t) => {
    const count = 300;
    let cut = 0;
    let cutByProxy = 0;
    await underAbuse(
      t,
      `slowloris (${count} connections, a byte every 500 ms)`,
      64,
      async (until) => {
        const sockets = await Promise.all(
          Array.from({ length: count }, () =>
            connectFrom(proxy.port, "127.0.0.2").then((client) => client.socket),
          ),
        );
        const closed = sockets.map(
          (socket) => new Promise<void>((resolve) => socket.once("close", () => resolve())),
        );
        for (const [i, socket] of sockets.entries()) {
          socket.on("error", () => {});
          void closed[i]!.then(() => cut++);
        }
        const trickle = setInterval(() => {
          for (const socket of sockets) if (!socket.destroyed) socket.write(Buffer.from([0]));
        }, 500);
        await until;
        clearInterval(trickle);
        cutByProxy = cut;
        for (const socket of sockets) socket.destroy();
      },
      FIRST_FRAME_TIMEOUT_MS + 3000,
    );
    assert.equal(cutByProxy, count, "every slow connection was cut before the abuse ended");
  });

  it(`a connection flood from one address beyond its cap (${FLOOD_CAP}) is refused; other addresses are served`, async (t) => {
    const attempts = 1000;
    let refused = 0;
    let refusedAtOnce = 0;
    let openAfterFlood = 0;
    const kept: net.Socket[] = [];
    await underAbuse(t, `a flood of ${attempts} connections from ${FLOOD_ADDRESS}`, 64, async (until) => {
      for (let i = 0; i < attempts; i++) {
        const socket = net.connect({ host: "127.0.0.1", port: proxy.port, localAddress: FLOOD_ADDRESS });
        socket.on("error", () => {});
        socket.once("close", () => refused++);
        kept.push(socket);
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      // Well before the first-frame timeout, which would close the silent ones that were let in.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      refusedAtOnce = refused;
      openAfterFlood = kept.filter((socket) => !socket.destroyed).length;
      await until;
    });
    for (const socket of kept) socket.destroy();
    t.diagnostic(`${refusedAtOnce} of ${attempts} refused at once, ${openAfterFlood} let in`);
    assert.equal(openAfterFlood, FLOOD_CAP, "the address got exactly its cap");
    assert.equal(refusedAtOnce, attempts - FLOOD_CAP);
  });

  // Silent connections: one that sends a request also opens its own broker connection (two descriptors each).
  it(`${IDLE_CONNECTIONS} idle connections cost a bounded amount of memory`, async (t) => {
    let connected = 0;
    let errors = "";
    // About 5 KB a connection was measured (the socket, its buffers and the connection's state): twice that.
    await underAbuse(t, `${IDLE_CONNECTIONS} idle connections`, 96, async (until) => {
      const clients = await idleClients(proxy.bootstrap, IDLE_CONNECTIONS, false);
      connected = clients.connected;
      errors = JSON.stringify(clients.errors);
      await until;
      await clients.close();
    });
    assert.equal(connected, IDLE_CONNECTIONS, `failures: ${errors}`);
  });
});
