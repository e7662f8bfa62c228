/**
 * The proxy process against misbehaving clients and its own bugs, with a real broker behind it: half-closed
 * clients still get their answers, client-caused errors log one line without a stack trace, unhandled rejections
 * are logged and served through, an uncaught exception closes gracefully and exits non-zero, and the admin HTTP
 * server survives resets and running out of file descriptors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import { buildBatch } from "../../../src/records/index.ts";
import {
  apiVersionsErrorCode,
  apiVersionsRequest,
  type ClientSocket,
  connectFrom,
  logLines,
  sleep,
} from "../../helpers/client-sockets.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";

const INJECTOR = fileURLToPath(new URL("./fixtures/fault-injector.ts", import.meta.url));
const METADATA_VERSION = 12;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 11;

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let topic: string;
/** Never written: a Fetch from offset 0 waits its maxWaitMs. */
let emptyTopic: string;
const sockets: ClientSocket[] = [];

function withInjector(mode: "rejection" | "exception"): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--import ${INJECTOR}`, KPP_TEST_FAULT: mode };
}

async function connect(port = proxy.port): Promise<ClientSocket> {
  const client = await connectFrom(port);
  sockets.push(client);
  return client;
}

function metadataRequest(correlationId: number, topics: string[] | null = null): Buffer {
  return encodeRequest(
    { apiKey: ApiKey.Metadata, apiVersion: METADATA_VERSION, correlationId, clientId: "robustness" },
    {
      topics: topics?.map((name) => ({ topicId: "0".repeat(32), name })) ?? null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    },
  );
}

function produceRequest(correlationId: number, acks: number, value: string): Buffer {
  return encodeRequest(
    { apiKey: ApiKey.Produce, apiVersion: PRODUCE_VERSION, correlationId, clientId: "robustness" },
    {
      transactionalId: null,
      acks,
      timeoutMs: 10_000,
      topicData: [
        { name: topic, partitionData: [{ index: 0, records: buildBatch({ records: [{ value }] }) }] },
      ],
    },
  );
}

function decode(apiKey: number, version: number, frame: Buffer): unknown {
  return decodeResponse(apiKey, version, frame.subarray(4)).body;
}

/** The proxy's log lines about the connection from `client`'s local port. */
/** The lines about a client's connection after the one that says it opened (which must come first). */
function linesAbout(target: ProxyProcess, client: ClientSocket): Record<string, unknown>[] {
  const lines = logLines(target.logs()).filter((line) => line.client === `127.0.0.1:${client.localPort}`);
  assert.equal(lines[0]?.msg, "client connection opened", JSON.stringify(lines));
  return lines.slice(1);
}

async function healthy(adminPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${adminPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

describe("the proxy process", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster();
    topic = cluster.uniqueTopic("robustness");
    emptyTopic = cluster.uniqueTopic("robustness-empty");
    await cluster.createTopic(topic);
    await cluster.createTopic(emptyTopic);
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      env: withInjector("rejection"),
      extra: { mapping: { topics: { "virtual-.*": { virtual_partitions: 4, physical_partitions: 2 } } } },
    });
    const client = await connect();
    await waitFor("the topic's leader", async () => {
      client.socket.write(metadataRequest(1, [topic, emptyTopic]));
      const body = decode(ApiKey.Metadata, METADATA_VERSION, await client.nextFrame()) as {
        topics: { partitions: { leaderId: number }[] }[];
      };
      const led = body.topics.filter((t) => (t.partitions[0]?.leaderId ?? -1) >= 0);
      return led.length === 2 ? true : undefined;
    });
    client.socket.destroy();
  });

  after(async () => {
    for (const client of sockets) client.socket.destroy();
    await proxy?.stop();
  });

  test("a client that half-closes after its requests still gets every response, then the proxy closes", async () => {
    const client = await connect();
    client.socket.write(
      Buffer.concat([metadataRequest(11), produceRequest(12, -1, "half-close"), apiVersionsRequest(13)]),
    );
    client.socket.end();
    const metadata = await client.nextFrame();
    const produced = await client.nextFrame();
    const versions = await client.nextFrame();
    assert.deepEqual(
      [metadata, produced, versions].map((frame) => frame.readInt32BE(4)),
      [11, 12, 13],
    );
    const brokers = (decode(ApiKey.Metadata, METADATA_VERSION, metadata) as { brokers: unknown[] }).brokers;
    assert.equal(brokers.length, 1);
    const partition = (
      decode(ApiKey.Produce, PRODUCE_VERSION, produced) as {
        responses: { partitionResponses: { errorCode: number }[] }[];
      }
    ).responses[0]!.partitionResponses[0]!;
    assert.equal(partition.errorCode, ErrorCode.NONE);
    assert.equal(apiVersionsErrorCode(versions), ErrorCode.NONE);
    const closedAt = await Promise.race([client.closed, sleep(5000).then(() => undefined)]);
    assert.ok(
      closedAt !== undefined,
      "the proxy did not close the half-closed connection once it had answered",
    );
  });

  test("a Produce with acks=0 followed by a half-close reaches the broker", async () => {
    const client = await connect();
    const value = `acks-zero-${Date.now()}`;
    client.socket.end(produceRequest(21, 0, value));
    await Promise.race([client.closed, sleep(5000)]);
    const reader = await connect();
    const found = await waitFor(
      "the acks=0 record",
      async () => {
        reader.socket.write(
          encodeRequest(
            { apiKey: ApiKey.Fetch, apiVersion: FETCH_VERSION, correlationId: 22, clientId: "robustness" },
            onePartitionFetch(topic, 0, 0n, 1 << 20),
          ),
        );
        const body = decode(ApiKey.Fetch, FETCH_VERSION, await reader.nextFrame()) as {
          responses: { partitions: { records: Buffer | null }[] }[];
        };
        const records = body.responses[0]!.partitions[0]!.records;
        return records?.includes(Buffer.from(value)) ? true : undefined;
      },
      10_000,
    );
    assert.equal(found, true);
  });

  test("client-caused errors log one line each, at info or warn, without a stack trace", async () => {
    const lengthOf = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const header = (apiKey: number, version: number) => {
      const h = Buffer.alloc(12);
      h.writeInt16BE(apiKey, 0);
      h.writeInt16BE(version, 2);
      h.writeInt32BE(99, 4);
      h.writeInt16BE(-1, 8);
      return h.subarray(0, 10);
    };
    const framed = (body: Buffer) => Buffer.concat([lengthOf(body.length), body]);
    const garbage = Buffer.alloc(64, 0xff);
    const cases: { name: string; bytes?: Buffer; reset?: Buffer }[] = [
      { name: "oversize frame", bytes: lengthOf(200 * 1024 * 1024) },
      { name: "negative length", bytes: lengthOf(-5) },
      { name: "TLS on plaintext", bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00]) },
      { name: "HTTP on the Kafka port", bytes: Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
      { name: "unknown api key", bytes: framed(Buffer.concat([header(32000, 0), garbage])) },
      { name: "frame shorter than a header", bytes: framed(Buffer.from([0, 3, 0])) },
      {
        name: "garbage Produce body",
        bytes: framed(Buffer.concat([header(ApiKey.Produce, PRODUCE_VERSION), garbage])),
      },
      // Three topics announced, then a name longer than the frame: no decoder can read it.
      {
        name: "truncated Metadata body",
        bytes: framed(
          Buffer.concat([header(ApiKey.Metadata, 4), Buffer.from([0, 0, 0, 3, 0x7f, 0xff, 0x61])]),
        ),
      },
      { name: "reset mid-frame", reset: metadataRequest(31).subarray(0, 10) },
      { name: "reset with a request in flight", reset: metadataRequest(32) },
    ];
    const clients = await Promise.all(cases.map(() => connect()));
    for (const [i, c] of cases.entries()) {
      const client = clients[i]!;
      if (c.bytes) client.socket.write(c.bytes);
      else {
        client.socket.write(c.reset!);
        await sleep(100);
        client.socket.resetAndDestroy();
      }
    }
    await Promise.all(clients.map((client) => Promise.race([client.closed, sleep(5000)])));
    await sleep(500);
    const problems: string[] = [];
    for (const [i, c] of cases.entries()) {
      const lines = linesAbout(proxy, clients[i]!);
      const text = JSON.stringify(lines);
      if (lines.length !== 1) problems.push(`${c.name}: ${lines.length} lines ${text}`);
      else if (![30, 40].includes(lines[0]!.level as number)) problems.push(`${c.name}: level ${text}`);
      if (/\\n\s+at /.test(text) || /"stack"/.test(text)) problems.push(`${c.name}: a stack trace ${text}`);
    }
    assert.deepEqual(problems, []);
    const still = await connect();
    still.socket.write(apiVersionsRequest(40));
    assert.equal(apiVersionsErrorCode(await still.nextFrame()), ErrorCode.NONE);
  });

  test("an unhandled promise rejection is logged with its stack and the proxy keeps serving", async () => {
    proxy.process.kill("SIGUSR2");
    const line = await waitFor(
      "the rejection's log line",
      async () =>
        logLines(proxy.logs()).find((l) => JSON.stringify(l).includes("injected unhandled rejection")),
      5000,
    );
    assert.equal(line.level, 50);
    assert.match(JSON.stringify(line), /fault-injector\.ts/, "the line carries the stack");
    await sleep(300);
    assert.equal(proxy.process.exitCode, null, "the proxy exited");
    const client = await connect();
    client.socket.write(apiVersionsRequest(50));
    assert.equal(apiVersionsErrorCode(await client.nextFrame()), ErrorCode.NONE);
  });

  test("the admin server survives clients that reset mid-request", async () => {
    const port = proxy.adminPort;
    for (let i = 0; i < 40; i++) {
      const socket = net.connect(port, "127.0.0.1");
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.on("error", () => {});
      const request =
        i % 2 === 0
          ? "GET /metrics HTTP/1.1\r\nHost: x\r\n"
          : "GET /admin/status HTTP/1.1\r\nHost: x\r\n\r\n";
      socket.write(request);
      if (i % 4 === 3) await sleep(2);
      socket.resetAndDestroy();
    }
    const garbage = net.connect(port, "127.0.0.1");
    garbage.on("error", () => {});
    garbage.end("\x16\x03\x01 not http at all\r\n\r\n");
    await sleep(300);
    assert.equal(proxy.process.exitCode, null);
    assert.equal(await healthy(port), true);
  });

  test("running out of file descriptors neither crashes the proxy nor floods its log", async () => {
    const pid = proxy.process.pid!;
    const open = readdirSync(`/proc/${pid}/fd`).length;
    const limit = open + 20;
    const soft = () => /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1];
    const original = soft();
    // The soft limit only: lowering the hard one could not be undone without privileges.
    execFileSync("prlimit", ["--pid", String(pid), `--nofile=${limit}:`]);
    assert.equal(soft(), String(limit));
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const socket = net.connect(proxy.port, "127.0.0.1");
        socket.on("error", () => {});
        held.push(socket);
      }
      const attempts = await Promise.all(Array.from({ length: 20 }, () => healthy(proxy.adminPort)));
      process.stderr.write(
        `admin requests answered while out of descriptors: ${attempts.filter(Boolean).length}/20\n`,
      );
      await sleep(500);
      assert.equal(proxy.process.exitCode, null, "the proxy exited");
    } finally {
      for (const socket of held) socket.destroy();
      execFileSync("prlimit", ["--pid", String(pid), `--nofile=${original}:`]);
    }
    await waitFor(
      "the admin server to answer again",
      async () => ((await healthy(proxy.adminPort)) ? true : undefined),
      10_000,
    );
    const client = await connect();
    client.socket.write(apiVersionsRequest(60));
    assert.equal(apiVersionsErrorCode(await client.nextFrame()), ErrorCode.NONE);
    const acceptErrors = logLines(proxy.logs()).filter((l) => /EMFILE|accept/i.test(JSON.stringify(l)));
    assert.ok(acceptErrors.length <= 3, `${acceptErrors.length} lines about failed accepts`);
  });

  test("an uncaught exception: logged with its stack, in-flight requests answered, then exit code 1", async () => {
    const failing = await startProxy({ upstream: cluster.bootstrap, env: withInjector("exception") });
    try {
      const client = await connect(failing.port);
      const waitMs = 2000;
      client.socket.write(
        encodeRequest(
          { apiKey: ApiKey.Fetch, apiVersion: FETCH_VERSION, correlationId: 70, clientId: "robustness" },
          { ...onePartitionFetch(emptyTopic, 0, 0n, 1 << 20), maxWaitMs: waitMs, minBytes: 1 },
        ),
      );
      await sleep(300);
      const exited = new Promise<number | null>((resolve) =>
        failing.process.once("exit", (code) => resolve(code)),
      );
      failing.process.kill("SIGUSR2");
      const response = await client.nextFrame(waitMs + 5000);
      assert.equal(response.readInt32BE(4), 70);
      assert.equal(
        (decode(ApiKey.Fetch, FETCH_VERSION, response) as { errorCode: number }).errorCode,
        ErrorCode.NONE,
      );
      const code = await Promise.race([exited, sleep(15_000).then(() => "still running" as const)]);
      assert.equal(code, 1);
      const fatal = logLines(failing.logs()).find((l) =>
        JSON.stringify(l).includes("injected uncaught exception"),
      );
      assert.ok(fatal, failing.logs().slice(-2000));
      assert.equal(fatal.level, 60);
      assert.match(JSON.stringify(fatal), /fault-injector\.ts/);
    } finally {
      await failing.kill();
    }
  });
});
