/**
 * Passthrough mode: each client's SASL exchange goes to the broker on its own connection, so the broker's users
 * and ACLs decide; the proxy keeps TLS towards the broker and its own credentials only for its own metadata.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { clusterTls, runPythonJson } from "./security-support.ts";

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;

const ALLOWED = "pt-allowed-";

before(async () => {
  // exclusive: ACLs are cluster-wide, and no other file runs an authorizer
  kafka = await useKafkaCluster({
    brokers: 1,
    exclusive: true,
    version: "4",
    security: "sasl_ssl",
    brokerProperties: {
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      // the harness's own PLAINTEXT listeners (controller, inter-broker, tests' admin) are ANONYMOUS
      "super.users": "User:admin;User:ANONYMOUS",
    },
  });
  await kafka.toolOk("kafka-acls", [
    "--add",
    "--allow-principal",
    "User:alice",
    "--operation",
    "All",
    "--topic",
    ALLOWED,
    "--resource-pattern-type",
    "prefixed",
  ]);
  await kafka.toolOk("kafka-acls", [
    "--add",
    "--allow-principal",
    "User:alice",
    "--operation",
    "All",
    "--group",
    ALLOWED,
    "--resource-pattern-type",
    "prefixed",
  ]);
  const tls = clusterTls(kafka);
  proxy = await startProxy({
    upstream: kafka.sasl!.bootstrap,
    extra: {
      listen: {
        security: {
          protocol: "SASL_SSL",
          mode: "passthrough",
          tls: { cert_path: tls.cert, key_path: tls.key },
        },
      },
      kafka: {
        bootstrap_servers: kafka.sasl!.bootstrap.split(","),
        metadata_refresh_interval_secs: 5,
        security_protocol: "SASL_SSL",
        tls: { ca_cert_path: tls.ca },
        sasl: { mechanism: "SCRAM-SHA-512", username: "admin", password: "admin-secret" },
      },
    },
  });
});

after(async () => {
  await proxy?.stop();
});

const PRODUCE_ONE = `
import json, sys
from confluent_kafka import Producer, Consumer
bootstrap, ca, mechanism, user, password, topic = sys.argv[1:7]
common = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
          "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
errors = []
p = Producer({**common, "error_cb": lambda e: errors.append(e.name()), "message.timeout.ms": 15000})
delivered = []
p.produce(topic, value=b"through-passthrough", on_delivery=lambda err, m: delivered.append(err.name() if err else "OK"))
p.flush(30)
out = {"delivery": delivered[0] if delivered else None, "errors": sorted(set(errors))}
if delivered == ["OK"]:
    c = Consumer({**common, "group.id": topic + "-g", "auto.offset.reset": "earliest",
                  "error_cb": lambda e: errors.append(e.name())})
    c.subscribe([topic])
    import time
    deadline = time.time() + 30
    out["consumed"] = None
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None: continue
        if m.error(): out.setdefault("consume_errors", []).append(m.error().name()); break
        out["consumed"] = m.value().decode(); break
    c.close()
print(json.dumps(out), flush=True)
`;

interface Outcome {
  delivery: string | null;
  errors: string[];
  consumed?: string | null;
  consume_errors?: string[];
}

function produceOne(mechanism: string, user: string, password: string, topic: string): Promise<Outcome> {
  return runPythonJson<Outcome>(
    PRODUCE_ONE,
    [proxy.bootstrap, clusterTls(kafka).ca, mechanism, user, password, topic],
    90_000,
  );
}

test("a broker SCRAM user produces and consumes through the proxy where the broker's ACLs allow it", async () => {
  const topic = `${ALLOWED}${Date.now()}`;
  await kafka.createTopic(topic);
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"]) {
    const outcome = await produceOne(mechanism, "alice", "alice-secret", topic);
    assert.equal(outcome.delivery, "OK", JSON.stringify(outcome));
    assert.equal(outcome.consumed, "through-passthrough", JSON.stringify(outcome));
  }
  assert.match(proxy.logs(), /"principal":"alice"[^\n]*client authenticated by the broker/);
});

test("the broker's ACL refusal reaches the client", async () => {
  const topic = `pt-denied-${Date.now()}`;
  await kafka.createTopic(topic);
  const outcome = await produceOne("SCRAM-SHA-512", "alice", "alice-secret", topic);
  assert.equal(outcome.delivery, "TOPIC_AUTHORIZATION_FAILED", JSON.stringify(outcome));
});

test("the broker refuses a wrong password, and the client is told", async () => {
  const outcome = await produceOne("SCRAM-SHA-512", "alice", "wrong-password", `${ALLOWED}wrong`);
  assert.notEqual(outcome.delivery, "OK");
  assert.ok(outcome.errors.includes("_AUTHENTICATION"), JSON.stringify(outcome));
});
