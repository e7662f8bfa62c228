/**
 * Mutual TLS towards clients: a proxy with `listen.security.protocol: SSL` and required client certificates,
 * mapped to principals by Kafka's `ssl.principal.mapping.rules`, in front of a SASL_SSL Kafka (the proxy logs in
 * with its own SCRAM user). The certificates are made here with the openssl CLI: a client CA, certificates it
 * signs, and certificates signed by CAs the proxy does not trust. The mapped principal is seen through the
 * `authorization` section, which lets only `alice` use the topics.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import type { ProxyProcess } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";
import {
  clusterTls,
  createClusterTopic,
  type LibrdkafkaRunResult,
  librdkafkaRun,
  logLines,
  metricValue,
  refusalLogged,
  startProxyBehindCluster,
} from "./security-support.ts";

const run = promisify(execFile);

/** Topics matching this are virtualized by this suite's proxy: 6 virtual partitions on 2. */
const VIRTUAL_PREFIX = "mtls-virt-";
/** Everything alice may use; the authorization section gives no one else any topic. */
const TOPIC_PREFIX = "mtls-";
const MAPPING_RULE = "RULE:^CN=([^,]+),OU=[^,]+,O=Acme$/$1/L";
const REFUSED = "kpp_client_connections_rejected_total";

interface Identity {
  cert: string;
  key: string;
  /** Key then certificate, for the Java client's PEM keystore. */
  keystore: string;
}

interface ClientPki {
  ca: string;
  alice: Identity;
  bob: Identity;
  /** Signed by the trusted CA, but no mapping rule applies to its subject. */
  carol: Identity;
  /** Signed by another CA with a name of its own. */
  mallory: Identity;
  /** Signed by an impostor CA carrying the trusted CA's name, with a key of its own. */
  trudy: Identity;
}

async function openssl(args: string[]): Promise<void> {
  await run("openssl", args, { timeout: 30_000 });
}

async function makeCa(dir: string, name: string, subject: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    subject,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { cert, key };
}

async function makeClient(
  dir: string,
  name: string,
  subject: string,
  ca: { cert: string; key: string },
): Promise<Identity> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, "client.ext");
  writeFileSync(
    ext,
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    `0x${randomBytes(8).toString("hex")}`,
    "-days",
    "2",
    "-extfile",
    ext,
    "-out",
    cert,
  ]);
  const keystore = join(dir, `${name}-keystore.pem`);
  writeFileSync(keystore, readFileSync(key, "utf8") + readFileSync(cert, "utf8"), { mode: 0o600 });
  return { cert, key, keystore };
}

async function makePki(dir: string): Promise<ClientPki> {
  const ca = await makeCa(dir, "client-ca", "/CN=kpp mtls test client CA");
  const rogue = await makeCa(dir, "rogue-ca", "/CN=kpp mtls rogue CA");
  const impostor = await makeCa(dir, "impostor-ca", "/CN=kpp mtls test client CA");
  return {
    ca: ca.cert,
    alice: await makeClient(dir, "alice", "/O=Acme/OU=eng/CN=Alice", ca),
    bob: await makeClient(dir, "bob", "/O=Acme/OU=ops/CN=Bob", ca),
    carol: await makeClient(dir, "carol", "/O=Elsewhere/CN=carol", ca),
    mallory: await makeClient(dir, "mallory", "/O=Acme/OU=eng/CN=mallory", rogue),
    trudy: await makeClient(dir, "trudy", "/O=Acme/OU=eng/CN=trudy", impostor),
  };
}

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;
let dir: string;
let pki: ClientPki;
let serverCa: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kpp-mtls-"));
  [kafka, pki] = await Promise.all([
    useKafkaCluster({ brokers: 1, version: "4", security: "sasl_ssl" }),
    makePki(dir),
  ]);
  const tls = clusterTls(kafka);
  serverCa = tls.ca;
  proxy = await startProxyBehindCluster(
    kafka,
    {
      protocol: "SSL",
      tls: {
        cert_path: tls.cert,
        key_path: tls.key,
        ca_cert_path: pki.ca,
        require_client_cert: true,
        principal: { mapping_rules: [MAPPING_RULE] },
      },
    },
    {
      mapping: { topics: { [`^${VIRTUAL_PREFIX}.*`]: { virtual_partitions: 6, physical_partitions: 2 } } },
      authorization: {
        principals: {
          "*": { rules: [{ effect: "allow", resource: "group", pattern: "*", operations: ["all"] }] },
          alice: {
            rules: [
              {
                effect: "allow",
                resource: "topic",
                pattern: TOPIC_PREFIX,
                pattern_type: "prefixed",
                operations: ["all"],
              },
            ],
          },
        },
      },
    },
  );
});

after(async () => {
  await proxy?.stop();
});

function librdkafkaConfig(identity: Identity | undefined): Record<string, string> {
  return {
    "bootstrap.servers": proxy.bootstrap,
    "security.protocol": "SSL",
    "ssl.ca.location": serverCa,
    ...(identity ? { "ssl.certificate.location": identity.cert, "ssl.key.location": identity.key } : {}),
  };
}

function javaProperties(identity: Identity | undefined): string {
  const file = join(dir, `java-${Math.random().toString(36).slice(2)}.properties`);
  writeFileSync(
    file,
    [
      "security.protocol=SSL",
      "ssl.truststore.type=PEM",
      `ssl.truststore.location=${serverCa}`,
      ...(identity ? ["ssl.keystore.type=PEM", `ssl.keystore.location=${identity.keystore}`] : []),
      "",
    ].join("\n"),
  );
  return file;
}

function names(errors: readonly { name: string }[]): string[] {
  return [...new Set(errors.map((e) => e.name))];
}

/** The part of the proxy's log written since `from` (a length of an earlier `proxy.logs()`). */
function logsSince(from: number): string {
  return proxy.logs().slice(from);
}

/** Waits until the proxy counted a refusal for `reason` beyond `before` and logged it with the client's address. */
async function refusalSeen(reasonLabel: string, before: number, reason: RegExp, from: number): Promise<void> {
  await waitFor(
    `a ${reasonLabel} refusal counted`,
    async () => ((await metricValue(proxy, REFUSED, `reason="${reasonLabel}"`)) > before ? true : undefined),
    15_000,
  );
  // the first refusal after a quiet interval is logged at once, later ones in a summary every 10 s
  await waitFor(
    `a refusal matching ${reason} logged with the client address`,
    async () => refusalLogged(logsSince(from), reason, "127.0.0.1") || undefined,
    15_000,
  );
}

for (const virtualized of [false, true]) {
  const kind = virtualized ? "virtualized" : "plain";
  const topicOf = (name: string) =>
    `${virtualized ? VIRTUAL_PREFIX : `${TOPIC_PREFIX}plain-`}${name}-${Date.now()}`;

  test(`librdkafka with alice's certificate produces and consumes through the mTLS proxy (${kind} topic)`, async () => {
    const topic = topicOf("rdkafka");
    await createClusterTopic(kafka, topic, virtualized ? 2 : 6);
    const result = await librdkafkaRun({
      config: librdkafkaConfig(pki.alice),
      topic,
      produce: 12,
      partitions: 6,
      label: "alice",
      consume: 12,
    });
    assert.equal(result.acked.length, 12, JSON.stringify(result));
    assert.deepEqual([...result.seen].sort(), [...result.acked].sort());
    assert.deepEqual(
      [...new Set(result.seen_partitions)].sort(),
      [0, 1, 2, 3, 4, 5],
      "every one of the 6 partitions the client sees",
    );
    assert.deepEqual(result.delivery_errors, []);
    assert.deepEqual(result.consume_errors, []);
    assert.deepEqual(result.errors, []);
  });

  test(`the Java console producer and consumer with alice's PEM keystore produce and consume (${kind} topic)`, async () => {
    const topic = topicOf("java");
    await createClusterTopic(kafka, topic, virtualized ? 2 : 6);
    const ssl = ["--bootstrap-server", proxy.bootstrap, "--command-config", javaProperties(pki.alice)];
    const values = Array.from({ length: 5 }, (_, i) => `java-alice-${i}`);
    await kafka.toolOk(
      "kafka-console-producer",
      [...ssl, "--topic", topic, "--command-property", "acks=all"],
      {
        input: `${values.join("\n")}\n`,
      },
    );
    const out = await kafka.toolOk("kafka-console-consumer", [
      ...ssl,
      "--topic",
      topic,
      "--from-beginning",
      "--max-messages",
      String(values.length),
      "--timeout-ms",
      "40000",
    ]);
    assert.deepEqual(out.trim().split("\n").sort(), [...values].sort());
  });
}

test("a certificate mapped to another principal (bob) is refused by authorization: TOPIC_AUTHORIZATION_FAILED, and the proxy names bob", async () => {
  const topic = `${TOPIC_PREFIX}bob-${Date.now()}`;
  await createClusterTopic(kafka, topic, 6);
  const from = proxy.logs().length;
  const produced = await librdkafkaRun({
    config: librdkafkaConfig(pki.bob),
    topic,
    produce: 3,
    partitions: 6,
    label: "bob",
    stopOn: ["TOPIC_AUTHORIZATION_FAILED"],
    timeoutS: 30,
  });
  assert.deepEqual(produced.acked, []);
  assert.deepEqual(names(produced.delivery_errors), ["TOPIC_AUTHORIZATION_FAILED"], JSON.stringify(produced));
  const consumed = await librdkafkaRun({
    config: librdkafkaConfig(pki.bob),
    topic,
    produce: 0,
    partitions: 6,
    label: "bob",
    consume: 1,
    stopOn: ["TOPIC_AUTHORIZATION_FAILED"],
    timeoutS: 30,
  });
  assert.deepEqual(consumed.seen, []);
  assert.deepEqual(names(consumed.consume_errors), ["TOPIC_AUTHORIZATION_FAILED"], JSON.stringify(consumed));

  const java = await kafka.tool(
    "kafka-console-producer",
    ["--bootstrap-server", proxy.bootstrap, "--command-config", javaProperties(pki.bob), "--topic", topic],
    { input: "from-bob\n", timeoutMs: 90_000 },
  );
  assert.equal(java.timedOut, false);
  assert.match(
    `${java.stderr}${java.stdout}`,
    /TopicAuthorizationException: Not authorized to access topics/,
  );

  // the refusals name the principal the certificate CN=Bob,OU=ops,O=Acme was mapped to (lower-cased by the rule), and the client's address
  await waitFor(
    "a denial naming principal bob",
    async () =>
      logLines(logsSince(from)).some(
        (line) =>
          line.principal === "bob" &&
          typeof line.client === "string" &&
          line.client.startsWith("127.0.0.1:") &&
          /authorization refused principal "bob"/.test(String(line.msg)),
      ) || undefined,
    10_000,
  );
  assert.equal(
    logLines(proxy.logs()).some(
      (line) => /authorization refused/.test(String(line.msg)) && line.principal !== "bob",
    ),
    false,
    "only bob was refused by authorization: alice's certificate maps to alice",
  );
  // alice reads the topic: nothing of bob's is in it
  const alice = await librdkafkaRun({
    config: librdkafkaConfig(pki.alice),
    topic,
    produce: 1,
    partitions: 6,
    label: "alice",
    consume: 1,
  });
  assert.deepEqual(alice.seen, ["alice-0"]);
});

test("a client without a certificate is refused in the TLS handshake: certificate_required for Java and librdkafka, logged with its address", async () => {
  const before = await metricValue(proxy, REFUSED, 'reason="tls_handshake_failed"');
  const from = proxy.logs().length;
  const java = await kafka.tool(
    "kafka-topics",
    ["--bootstrap-server", proxy.bootstrap, "--command-config", javaProperties(undefined), "--list"],
    { timeoutMs: 90_000 },
  );
  assert.equal(java.timedOut, false);
  assert.notEqual(java.exitCode, 0);
  const javaOut = `${java.stderr}${java.stdout}`;
  assert.match(javaOut, /SslAuthenticationException/);
  assert.match(javaOut, /SSLHandshakeException: Received fatal alert: certificate_required/);

  const rdkafka = await librdkafkaRun({
    config: librdkafkaConfig(undefined),
    topic: `${TOPIC_PREFIX}nocert`,
    produce: 1,
    partitions: 1,
    label: "nocert",
    stopOn: ["_TRANSPORT", "_SSL"],
    messageTimeoutMs: 15_000,
    timeoutS: 20,
  });
  assert.deepEqual(rdkafka.acked, []);
  assert.ok(
    rdkafka.errors.some((e) => /alert certificate required/.test(e.message)),
    JSON.stringify(rdkafka.errors),
  );
  await refusalSeen("tls_handshake_failed", before, /peer did not return a certificate/, from);
});

test("a certificate signed by a CA the proxy does not trust is refused: the clients do not offer it, the handshake fails with certificate_required", async () => {
  // The proxy lists its trusted CA in its certificate request; Java and librdkafka offer no certificate from
  // another issuer, so the handshake fails as it does without one.
  const before = await metricValue(proxy, REFUSED, 'reason="tls_handshake_failed"');
  const from = proxy.logs().length;
  const java = await kafka.tool(
    "kafka-topics",
    ["--bootstrap-server", proxy.bootstrap, "--command-config", javaProperties(pki.mallory), "--list"],
    { timeoutMs: 90_000 },
  );
  assert.equal(java.timedOut, false);
  assert.notEqual(java.exitCode, 0);
  const javaOut = `${java.stderr}${java.stdout}`;
  assert.match(javaOut, /SslAuthenticationException/);
  assert.match(javaOut, /SSLHandshakeException: Received fatal alert: certificate_required/);

  const rdkafka = await librdkafkaRun({
    config: librdkafkaConfig(pki.mallory),
    topic: `${TOPIC_PREFIX}mallory`,
    produce: 1,
    partitions: 1,
    label: "mallory",
    stopOn: ["_TRANSPORT", "_SSL"],
    messageTimeoutMs: 15_000,
    timeoutS: 20,
  });
  assert.deepEqual(rdkafka.acked, []);
  assert.ok(
    rdkafka.errors.some((e) => /alert certificate required/.test(e.message)),
    JSON.stringify(rdkafka.errors),
  );
  await refusalSeen("tls_handshake_failed", before, /peer did not return a certificate/, from);
});

test("a certificate from an impostor CA (the trusted CA's name, another key) is offered and refused: no record gets through", async () => {
  const before = await metricValue(proxy, REFUSED, 'reason="client_certificate"');
  const result: LibrdkafkaRunResult = await librdkafkaRun({
    config: librdkafkaConfig(pki.trudy),
    topic: `${TOPIC_PREFIX}trudy`,
    produce: 1,
    partitions: 1,
    label: "trudy",
    messageTimeoutMs: 6_000,
    timeoutS: 20,
  });
  assert.deepEqual(result.acked, []);
  assert.deepEqual(names(result.delivery_errors), ["_MSG_TIMED_OUT"], JSON.stringify(result));
  await waitFor(
    "a client_certificate refusal counted",
    async () =>
      (await metricValue(proxy, REFUSED, 'reason="client_certificate"')) > before ? true : undefined,
    15_000,
  );
});

test("an impostor CA's certificate is logged as not trusted, with the client's address", async () => {
  const from = proxy.logs().length;
  await librdkafkaRun({
    config: librdkafkaConfig(pki.trudy),
    topic: `${TOPIC_PREFIX}trudy`,
    produce: 1,
    partitions: 1,
    label: "trudy",
    messageTimeoutMs: 3_000,
    timeoutS: 10,
  });
  await waitFor(
    "a refusal naming the untrusted certificate and the client's address",
    async () => refusalLogged(logsSince(from), /not trusted|UNABLE_TO_VERIFY/, "127.0.0.1") || undefined,
    15_000,
  );
});

test("a trusted certificate no mapping rule maps is refused at connect, logged with the address and the subject", async () => {
  const before = await metricValue(proxy, REFUSED, 'reason="client_certificate"');
  const from = proxy.logs().length;
  const result = await librdkafkaRun({
    config: librdkafkaConfig(pki.carol),
    topic: `${TOPIC_PREFIX}carol`,
    produce: 1,
    partitions: 1,
    label: "carol",
    messageTimeoutMs: 6_000,
    timeoutS: 20,
  });
  assert.deepEqual(result.acked, []);
  assert.deepEqual(names(result.delivery_errors), ["_MSG_TIMED_OUT"], JSON.stringify(result));
  await refusalSeen(
    "client_certificate",
    before,
    /maps to no principal: No rules apply to CN=carol,O=Elsewhere/,
    from,
  );
});

test("no private key appears in the proxy's logs", () => {
  const logs = proxy.logs();
  assert.equal(logs.includes("PRIVATE KEY"), false);
  for (const identity of [pki.alice, pki.bob, pki.carol, pki.mallory, pki.trudy]) {
    const body = readFileSync(identity.key, "utf8").split("\n")[1]!;
    assert.equal(logs.includes(body), false, identity.key);
  }
});
