import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { connect } from "node:tls";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";

let kafka: KafkaTestCluster;

before(async () => {
  kafka = await useKafkaCluster({ brokers: 1, version: "4", security: "sasl_ssl" });
});

test("the SASL_SSL listener presents a certificate valid for 127.0.0.1 signed by the cluster CA", async () => {
  const port = kafka.sasl!.ports[0]!.port;
  const authorized = await new Promise<boolean>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: readFileSync(kafka.sasl!.caFile) }, () => {
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.on("error", reject);
  });
  assert.equal(authorized, true);
});

test("a SCRAM-SHA-512 client produces and consumes over TLS", async () => {
  const topic = kafka.uniqueTopic("scram");
  await kafka.toolOk("kafka-topics", ["--create", "--topic", topic]);
  const config = kafka.sasl!.clientConfigs["SCRAM-SHA-512"];
  const sasl = ["--bootstrap-server", kafka.sasl!.bootstrap, "--command-config", config];
  await kafka.toolOk(
    "kafka-console-producer",
    [...sasl, "--topic", topic, "--command-property", "acks=all"],
    {
      input: "secret-1\nsecret-2\n",
    },
  );
  const out = await kafka.toolOk("kafka-console-consumer", [
    ...sasl,
    "--topic",
    topic,
    "--from-beginning",
    "--max-messages",
    "2",
    "--timeout-ms",
    "30000",
  ]);
  assert.deepEqual(out.trim().split("\n"), ["secret-1", "secret-2"]);
});

test("PLAIN and SCRAM-SHA-256 users authenticate too", async () => {
  for (const mechanism of ["PLAIN", "SCRAM-SHA-256"] as const) {
    const config = kafka.sasl!.clientConfigs[mechanism];
    await kafka.toolOk("kafka-topics", [
      "--bootstrap-server",
      kafka.sasl!.bootstrap,
      "--command-config",
      config,
      "--list",
    ]);
  }
});

test("a wrong SCRAM password is refused quickly", async () => {
  const good = readFileSync(kafka.sasl!.clientConfigs["SCRAM-SHA-512"], "utf8");
  const bad = join(kafka.dir, "wrong-password.properties");
  writeFileSync(bad, good.replace('password="alice-secret"', 'password="not-the-password"'));
  const started = Date.now();
  const result = await kafka.tool(
    "kafka-topics",
    ["--bootstrap-server", kafka.sasl!.bootstrap, "--command-config", bad, "--list"],
    { timeoutMs: 60_000 },
  );
  assert.equal(result.timedOut, false);
  assert.notEqual(result.exitCode, 0);
  assert.match(`${result.stderr}${result.stdout}`, /Authentication failed|SaslAuthenticationException/);
  assert.ok(Date.now() - started < 60_000);
});
