import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import tls from "node:tls";
import kafkajs from "kafkajs";
import { API_KEYS, ApiKey } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import type { ProxyProcess } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";
import {
  type ClientMechanism,
  clusterTls,
  connectionsTo,
  javaClientProperties,
  librdkafkaRoundTrip,
  MECHANISMS,
  startSecureProxy,
  USERS,
  VIRTUAL_PREFIX,
  writeCredentials,
} from "./security-support.ts";

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;
let dir: string;
let ca: string;
let credentialsFile: string;
const CAROL_PASSWORD = "carol-proxy-pw";

before(async () => {
  kafka = await useKafkaCluster({ brokers: 1, version: "4", security: "sasl_ssl" });
  dir = mkdtempSync(join(tmpdir(), "kpp-security-"));
  ca = clusterTls(kafka).ca;
  credentialsFile = writeCredentials(dir, { ...USERS, carol: CAROL_PASSWORD });
  proxy = await startSecureProxy(kafka, credentialsFile);
});

after(async () => {
  await proxy?.stop();
});

async function createTopic(topic: string, partitions: number): Promise<void> {
  const config = kafka.sasl!.clientConfigs["SCRAM-SHA-512"];
  await kafka.toolOk("kafka-topics", [
    "--bootstrap-server",
    kafka.sasl!.bootstrap,
    "--command-config",
    config,
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
  ]);
}

async function javaRoundTrip(mechanism: ClientMechanism, topic: string): Promise<string[]> {
  const properties = javaClientProperties(dir, mechanism, "alice", USERS.alice, ca);
  const sasl = ["--bootstrap-server", proxy.bootstrap, "--command-config", properties];
  const values = [1, 2, 3].map((i) => `${mechanism}-java-${i}`);
  await kafka.toolOk(
    "kafka-console-producer",
    [...sasl, "--topic", topic, "--command-property", "acks=all"],
    {
      input: `${values.join("\n")}\n`,
    },
  );
  const out = await kafka.toolOk("kafka-console-consumer", [
    ...sasl,
    "--topic",
    topic,
    "--from-beginning",
    "--max-messages",
    String(values.length),
    "--timeout-ms",
    "40000",
  ]);
  return out.trim().split("\n").sort();
}

for (const virtualized of [false, true]) {
  const kind = virtualized ? "virtualized" : "plain";
  const topicOf = (name: string) => (virtualized ? `${VIRTUAL_PREFIX}${name}` : `sec-plain-${name}`);

  test(`the Java client produces and consumes through SASL_SSL on both sides with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (${kind} topic)`, async () => {
    for (const mechanism of MECHANISMS) {
      const topic = topicOf(`java-${mechanism.toLowerCase()}-${Date.now()}`);
      await createTopic(topic, 2);
      const values = [1, 2, 3].map((i) => `${mechanism}-java-${i}`);
      assert.deepEqual(await javaRoundTrip(mechanism, topic), values.sort(), mechanism);
    }
  });

  test(`librdkafka produces and consumes through SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (${kind} topic)`, async () => {
    for (const mechanism of MECHANISMS) {
      const topic = topicOf(`rdkafka-${mechanism.toLowerCase()}-${Date.now()}`);
      await createTopic(topic, virtualized ? 2 : 6);
      const result = await librdkafkaRoundTrip(proxy.bootstrap, ca, mechanism, "bob", USERS.bob, topic, 12);
      assert.equal(result.acked.length, 12, `${mechanism}: ${JSON.stringify(result)}`);
      assert.deepEqual([...result.seen].sort(), [...result.acked].sort(), mechanism);
      assert.deepEqual(result.errors, [], mechanism);
    }
  });

  test(`KafkaJS produces and consumes through SASL_SSL with SCRAM-SHA-256 and SCRAM-SHA-512 (${kind} topic)`, async () => {
    for (const mechanism of ["scram-sha-256", "scram-sha-512"] as ("scram-sha-256" | "scram-sha-512")[]) {
      const topic = topicOf(`kafkajs-${mechanism}-${Date.now()}`);
      await createTopic(topic, virtualized ? 2 : 6);
      const client = new kafkajs.Kafka({
        brokers: [proxy.bootstrap],
        clientId: "kafkajs-security",
        ssl: { ca: [readFileSync(ca)] },
        sasl: { mechanism, username: "alice", password: USERS.alice } as kafkajs.SASLOptions,
        logLevel: kafkajs.logLevel.NOTHING,
      });
      const producer = client.producer();
      await producer.connect();
      const values = Array.from({ length: 6 }, (_, i) => `${mechanism}-${i}`);
      await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i })) });
      await producer.disconnect();
      const consumer = client.consumer({ groupId: `g-${topic}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await waitFor(
        `${mechanism}: consumed ${seen.length}`,
        async () => seen.length >= values.length || undefined,
        40_000,
      );
      await consumer.disconnect();
      assert.deepEqual([...seen].sort(), [...values].sort(), mechanism);
    }
  });
}

test("a wrong password and an unknown user are refused with the error the Java client shows", async () => {
  for (const [user, password] of [
    ["alice", "not-the-password"],
    ["mallory", "whatever"],
  ] as const) {
    const properties = javaClientProperties(dir, "SCRAM-SHA-512", user, password, ca);
    const result = await kafka.tool(
      "kafka-topics",
      ["--bootstrap-server", proxy.bootstrap, "--command-config", properties, "--list"],
      { timeoutMs: 60_000 },
    );
    assert.equal(result.timedOut, false, user);
    assert.notEqual(result.exitCode, 0, user);
    assert.match(
      `${result.stderr}${result.stdout}`,
      /SaslAuthenticationException|Authentication failed/,
      user,
    );
  }
  await waitFor(
    "a log line naming the refused user",
    async () =>
      (/mallory/.test(proxy.logs()) && /client authentication failed/.test(proxy.logs())) || undefined,
    10_000,
  );
});

/** Opens a raw TLS connection to the proxy and sends one request frame; resolves to how the connection ended. */
function rawTlsRequest(apiKey: ApiKey, body: unknown): Promise<{ closed: boolean; bytes: number }> {
  const [host, port] = proxy.bootstrap.split(":");
  const version = API_KEYS.find((api) => api.apiKey === apiKey)!.minVersion;
  const frame = encodeRequest(
    { apiKey, apiVersion: version, correlationId: 7, clientId: "raw" },
    body as never,
  );
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = tls.connect({ host, port: Number(port), ca: [readCa()] }, () => socket.write(frame));
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("close", () => resolve({ closed: true, bytes }));
    socket.on("error", () => {});
    setTimeout(() => {
      socket.destroy();
      reject(new Error("the proxy kept the connection open"));
    }, 15_000);
  });
}

function readCa(): Buffer {
  return readFileSync(ca);
}

test("a Metadata or Produce request before authentication closes the connection without a broker connection or an answer", async () => {
  const brokerPort = Number(kafka.sasl!.bootstrap.split(":")[1]);
  const pid = proxy.process.pid!;
  const before = connectionsTo(pid, brokerPort);
  const metadata = await rawTlsRequest(ApiKey.Metadata, { topics: [] });
  assert.deepEqual(metadata, { closed: true, bytes: 0 });
  const produce = await rawTlsRequest(ApiKey.Produce, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topicData: [],
  });
  assert.deepEqual(produce, { closed: true, bytes: 0 });
  assert.equal(connectionsTo(pid, brokerPort), before, "no broker connection was opened for them");
  await waitFor(
    "Metadata logged",
    async () => /Metadata request before authentication/.test(proxy.logs()) || undefined,
    10_000,
  );
  await waitFor(
    "Produce logged",
    async () => /Produce request before authentication/.test(proxy.logs()) || undefined,
    10_000,
  );
});

test("a plaintext client on the TLS port is refused and logged with its address", async () => {
  const [host, port] = proxy.bootstrap.split(":");
  const frame = encodeRequest(
    { apiKey: ApiKey.ApiVersions, apiVersion: 0, correlationId: 1, clientId: "plaintext" },
    { clientSoftwareName: "", clientSoftwareVersion: "" } as never,
  );
  const outcome = await new Promise<{ answered: boolean }>((resolve) => {
    let answered = false;
    const socket = net.connect({ host, port: Number(port) }, () => socket.write(frame));
    socket.on("data", (chunk: Buffer) => {
      // a TLS alert is not a Kafka response: a Kafka response starts with a 4-byte length and the correlation id 1
      if (chunk.length >= 8 && chunk.readInt32BE(4) === 1) answered = true;
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve({ answered }));
  });
  assert.equal(outcome.answered, false);
  await waitFor(
    "the refusal is logged",
    async () => /tls_handshake_failed/.test(proxy.logs()) || undefined,
    10_000,
  );
});

test("no password, key or token appears in the proxy's logs", () => {
  const logs = proxy.logs();
  for (const secret of [USERS.alice, USERS.bob, "admin-secret", "not-the-password", "PRIVATE KEY"]) {
    assert.equal(logs.includes(secret), false, `the logs hold ${secret}`);
  }
});

test("a user removed from the credentials file cannot connect any more, while another user's producer sees no error", async () => {
  const topic = `sec-plain-reload-${Date.now()}`;
  await createTopic(topic, 1);
  const listAs = (user: string, password: string) =>
    kafka.tool(
      "kafka-topics",
      [
        "--bootstrap-server",
        proxy.bootstrap,
        "--command-config",
        javaClientProperties(dir, "SCRAM-SHA-256", user, password, ca),
        "--list",
      ],
      { timeoutMs: 60_000 },
    );
  assert.equal((await listAs("carol", CAROL_PASSWORD)).exitCode, 0, "carol can connect before the reload");

  const client = new kafkajs.Kafka({
    brokers: [proxy.bootstrap],
    clientId: "reload-producer",
    ssl: { ca: [readFileSync(ca)] },
    sasl: { mechanism: "scram-sha-512", username: "alice", password: USERS.alice },
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const producer = client.producer();
  await producer.connect();
  const errors: string[] = [];
  let acknowledged = 0;
  let producing = true;
  const running = (async () => {
    while (producing) {
      try {
        await producer.send({ topic, acks: -1, messages: [{ value: `r-${acknowledged}` }] });
        acknowledged++;
      } catch (error) {
        errors.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await waitFor("the producer to be running", async () => (acknowledged >= 5 ? true : undefined), 20_000);

  const replacement = writeCredentials(dir, USERS);
  renameSync(replacement, credentialsFile);
  await waitFor(
    "the proxy to reload its credentials",
    async () => /credentials reloaded/.test(proxy.logs()) || undefined,
    15_000,
  );
  const refused = await listAs("carol", CAROL_PASSWORD);
  assert.notEqual(refused.exitCode, 0, "carol is refused after the reload");
  assert.match(`${refused.stderr}${refused.stdout}`, /SaslAuthenticationException|Authentication failed/);
  const before = acknowledged;
  await waitFor(
    "more records acknowledged after the reload",
    async () => (acknowledged >= before + 10 ? true : undefined),
    20_000,
  );
  producing = false;
  await running;
  await producer.disconnect();
  assert.deepEqual(errors, [], "alice's producer saw no error");
  assert.equal((await listAs("bob", USERS.bob)).exitCode, 0, "bob still connects");
});
