/**
 * One TLS port for every broker: clients reach the bootstrap and each broker of a 3-broker cluster by host name
 * (SNI) on the proxy's single port. The names resolve to 127.0.0.1 through a hosts file given to the Java client
 * (`jdk.net.hosts.file`, Java 18+), and for librdkafka through /etc/hosts: lines marked with this run's id are
 * added (as root, as CI runs) and removed afterwards.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { clusterTls, librdkafkaRun } from "./security-support.ts";

const DOMAIN = "kpp-sni.test";
const BOOTSTRAP_HOST = `kafka.${DOMAIN}`;
const JVM_ROOT = "/usr/lib/jvm";

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;
let dir: string;
let hostsFile: string;
let java: string;
let caFile: string;
const SYSTEM_HOSTS = "/etc/hosts";
const HOSTS_MARKER = `# kafka-partition-proxy sni test ${process.pid}`;

/** Makes the test's names resolve for every process (librdkafka reads /etc/hosts); needs root. */
function addSystemHosts(names: string[]): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `this test resolves ${names[0]} and the broker names through ${SYSTEM_HOSTS}: run it as root (CI does)`,
    );
  }
  appendFileSync(SYSTEM_HOSTS, `127.0.0.1 ${names.join(" ")} ${HOSTS_MARKER}\n`);
}

function removeSystemHosts(): void {
  const text = readFileSync(SYSTEM_HOSTS, "utf8");
  if (!text.includes(HOSTS_MARKER)) return;
  writeFileSync(
    SYSTEM_HOSTS,
    text
      .split("\n")
      .filter((line) => !line.includes(HOSTS_MARKER))
      .join("\n"),
  );
}

/** A JDK that reads `jdk.net.hosts.file` (18 or newer): JAVA_HOME when it is one, else the newest in /usr/lib/jvm. */
function javaWithHostsFile(): string {
  const candidates = [process.env.JAVA_HOME, ...readdirSync(JVM_ROOT).map((name) => join(JVM_ROOT, name))];
  for (const home of candidates) {
    if (!home || !existsSync(join(home, "bin", "java"))) continue;
    const text = spawnSync(join(home, "bin", "java"), ["-version"], { encoding: "utf8" }).stderr;
    const major = Number(/version "(\d+)/.exec(text)?.[1] ?? 0);
    if (major >= 18) return home;
  }
  throw new Error(`this test needs a JDK 18+ (jdk.net.hosts.file): none found in JAVA_HOME or ${JVM_ROOT}`);
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

/** A CA and a certificate for *.kpp-sni.test, signed by it. */
function wildcardCertificate(): { ca: string; cert: string; key: string } {
  const path = (name: string) => join(dir, name);
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem")]
      .concat(["-days", "2", "-subj", "/CN=sni test CA", "-addext", "basicConstraints=critical,CA:TRUE"])
      .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
  );
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      path("server.key"),
      "-out",
      path("server.csr"),
    ].concat(["-subj", `/CN=${BOOTSTRAP_HOST}`]),
  );
  writeFileSync(path("server.ext"), `subjectAltName=DNS:*.${DOMAIN}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key")].concat([
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      path("server.ext"),
      "-out",
      path("server.pem"),
    ]),
  );
  return { ca: path("ca.pem"), cert: path("server.pem"), key: path("server.key") };
}

before(async () => {
  java = javaWithHostsFile();
  // exclusive: no other file uses a 3-broker SASL_SSL cluster; shared, it would idle until the run ends
  kafka = await useKafkaCluster({ brokers: 3, version: "4", security: "sasl_ssl", exclusive: true });
  dir = mkdtempSync(join(tmpdir(), "kpp-sni-"));
  const certificate = wildcardCertificate();
  const hosts = [BOOTSTRAP_HOST, ...kafka.brokers.map((broker) => `broker-${broker.id}.${DOMAIN}`)];
  hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, `127.0.0.1 ${hosts.join(" ")}\n`);
  addSystemHosts(hosts);
  caFile = certificate.ca;
  const upstream = clusterTls(kafka);
  proxy = await startProxy({
    upstream: kafka.sasl!.bootstrap,
    extra: {
      listen: {
        advertised_address: BOOTSTRAP_HOST,
        security: {
          protocol: "SSL",
          tls: {
            cert_path: certificate.cert,
            key_path: certificate.key,
            sni: { bootstrap_host: BOOTSTRAP_HOST, broker_host_pattern: `broker-$(nodeId).${DOMAIN}` },
          },
        },
      },
      kafka: {
        bootstrap_servers: kafka.sasl!.bootstrap.split(","),
        metadata_refresh_interval_secs: 5,
        security_protocol: "SASL_SSL",
        tls: { ca_cert_path: upstream.ca },
        sasl: { mechanism: "SCRAM-SHA-512", username: "admin", password: "admin-secret" },
      },
      mapping: { topics: { "^sni-virt-.*": { virtual_partitions: 6, physical_partitions: 3 } } },
    },
  });
  writeFileSync(
    join(dir, "client.properties"),
    [
      "security.protocol=SSL",
      "ssl.truststore.type=PEM",
      `ssl.truststore.location=${certificate.ca}`,
      "",
    ].join("\n"),
  );
});

after(async () => {
  removeSystemHosts();
  await proxy?.stop();
});

/** Runs a Kafka tool with the JDK that reads the hosts file, through the proxy's one port by name. */
async function viaSni(name: string, args: string[], input?: string): Promise<string> {
  const saved = process.env.JAVA_HOME;
  process.env.JAVA_HOME = java;
  try {
    const result = await kafka.tool(
      name,
      [
        "--bootstrap-server",
        `${BOOTSTRAP_HOST}:${proxy.port}`,
        "--command-config",
        join(dir, "client.properties"),
        ...args,
      ],
      {
        input,
        timeoutMs: 120_000,
        jvmOptions: ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", `-Djdk.net.hosts.file=${hostsFile}`],
      },
    );
    if (result.exitCode !== 0)
      throw new Error(`${name} exited ${result.exitCode}:\n${result.stderr.slice(-3000)}`);
    return result.stdout;
  } finally {
    if (saved === undefined) delete process.env.JAVA_HOME;
    else process.env.JAVA_HOME = saved;
  }
}

for (const topicPrefix of ["sni-plain-", "sni-virt-"]) {
  test(`the Java client produces and consumes through one TLS port to a 3-broker cluster (${topicPrefix}topic)`, async () => {
    const topic = `${topicPrefix}${Date.now()}`;
    await kafka.toolOk("kafka-topics", [
      "--create",
      "--topic",
      topic,
      "--partitions",
      "3",
      "--replication-factor",
      "3",
    ]);
    const described = await viaSni("kafka-topics", ["--describe", "--topic", topic]);
    const leaders = new Set([...described.matchAll(/Leader: (\d+)/g)].map((match) => match[1]));
    assert.ok(leaders.size >= 2, `partitions led by several brokers: ${described}`);
    const values = Array.from({ length: 30 }, (_, i) => `sni-${i}`);
    await viaSni(
      "kafka-console-producer",
      ["--topic", topic, "--command-property", "acks=all"],
      `${values.join("\n")}\n`,
    );
    const out = await viaSni("kafka-console-consumer", [
      "--topic",
      topic,
      "--from-beginning",
      "--max-messages",
      String(values.length),
      "--timeout-ms",
      "60000",
    ]);
    assert.deepEqual(out.trim().split("\n").sort(), [...values].sort());
  });
}

test("librdkafka produces and consumes through the one TLS port to every broker", async () => {
  for (const prefix of ["sni-plain-", "sni-virt-"]) {
    const topic = `${prefix}rdkafka-${Date.now()}`;
    const partitions = prefix === "sni-virt-" ? 6 : 3;
    await kafka.toolOk("kafka-topics", [
      "--create",
      "--topic",
      topic,
      "--partitions",
      "3",
      "--replication-factor",
      "3",
    ]);
    const result = await librdkafkaRun({
      config: {
        "bootstrap.servers": `${BOOTSTRAP_HOST}:${proxy.port}`,
        "security.protocol": "SSL",
        "ssl.ca.location": caFile,
      },
      topic,
      produce: 24,
      partitions,
      label: prefix,
      consume: 24,
    });
    assert.equal(result.acked.length, 24, JSON.stringify(result));
    assert.deepEqual([...result.seen].sort(), [...result.acked].sort(), prefix);
    assert.equal(
      new Set(result.seen_partitions).size,
      partitions,
      "every partition, so every broker, was read",
    );
    assert.deepEqual(result.errors, [], prefix);
  }
});

test("the proxy listens on one port only, and names the brokers by host name", () => {
  const listening = proxy
    .logs()
    .split("\n")
    .filter((line) => line.includes('"msg":"listening"'));
  assert.equal(listening.length, 1, listening.join("\n"));
});

test("a client asking for a name the port does not serve is refused", async () => {
  const tls = await import("node:tls");
  const outcome = await new Promise<string>((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port: proxy.port,
      servername: `other.${DOMAIN}`,
      rejectUnauthorized: false,
    });
    socket.on("secureConnect", () => socket.write(Buffer.from([0, 0, 0, 0])));
    socket.on("error", (error) => resolve(`error: ${error.message}`));
    socket.on("close", () => resolve("closed"));
  });
  assert.match(outcome, /closed|error/);
  assert.match(proxy.logs(), /unknown_server_name/);
});
