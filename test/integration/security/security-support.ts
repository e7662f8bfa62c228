/** Shared set-up of the security suites: a SASL_SSL Kafka, stored credentials, a proxy with TLS and SASL on both sides. */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addStoredUser } from "../../../src/security/credentials.ts";
import { clientPython } from "../../helpers/clients.ts";
import type { KafkaTestCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";

export const USERS = { alice: "alice-proxy-pw", bob: "bob-proxy-pw" } as const;
export type ClientMechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
export const MECHANISMS: readonly ClientMechanism[] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
/** Topics matching this are virtualized by the suites' proxy: 6 virtual partitions on 2. */
export const VIRTUAL_PREFIX = "sec-virt-";

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

export function clusterTls(kafka: KafkaTestCluster): TlsPaths {
  const dir = join(kafka.dir, "tls");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

/** A credentials file in the proxy's stored (salted) format holding both SCRAM mechanisms of every user. */
export function writeCredentials(dir: string, users: Record<string, string> = USERS): string {
  const file = join(dir, `credentials-${process.pid}-${Date.now()}.txt`);
  for (const [user, password] of Object.entries(users)) {
    addStoredUser(file, user, "SCRAM-SHA-512", password, 4096);
    addStoredUser(file, user, "SCRAM-SHA-256", password, 4096);
  }
  return file;
}

/** A SASL_SSL proxy (terminate mode) in front of the cluster's SASL_SSL listener, as the proxy's own SCRAM user. */
export function startSecureProxy(
  kafka: KafkaTestCluster,
  credentialsFile: string,
  extra: Record<string, unknown> = {},
): Promise<ProxyProcess> {
  const tls = clusterTls(kafka);
  const { listenSecurity, ...rest } = extra as { listenSecurity?: Record<string, unknown> };
  return startProxy({
    upstream: kafka.sasl!.bootstrap,
    extra: {
      listen: {
        security: {
          protocol: "SASL_SSL",
          tls: { cert_path: tls.cert, key_path: tls.key },
          sasl: {
            enabled_mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
            credentials: { file: credentialsFile },
          },
          ...listenSecurity,
        },
      },
      kafka: {
        bootstrap_servers: [kafka.sasl!.bootstrap],
        metadata_refresh_interval_secs: 5,
        security_protocol: "SASL_SSL",
        tls: { ca_cert_path: tls.ca },
        sasl: { mechanism: "SCRAM-SHA-512", username: "admin", password: "${KPP_TEST_BROKER_PASSWORD}" },
      },
      mapping: { topics: { [`^${VIRTUAL_PREFIX}.*`]: { virtual_partitions: 6, physical_partitions: 2 } } },
      ...rest,
    },
    env: { KPP_TEST_BROKER_PASSWORD: "admin-secret" },
  });
}

/** Java client properties for SASL_SSL to the proxy. */
export function javaClientProperties(
  dir: string,
  mechanism: ClientMechanism,
  user: string,
  password: string,
  caFile: string,
): string {
  const module =
    mechanism === "PLAIN"
      ? "org.apache.kafka.common.security.plain.PlainLoginModule"
      : "org.apache.kafka.common.security.scram.ScramLoginModule";
  const file = join(
    dir,
    `client-${mechanism}-${user}-${process.pid}-${Math.random().toString(36).slice(2)}.properties`,
  );
  writeFileSync(
    file,
    [
      "security.protocol=SASL_SSL",
      `sasl.mechanism=${mechanism}`,
      `sasl.jaas.config=${module} required username="${user}" password="${password}";`,
      "ssl.truststore.type=PEM",
      `ssl.truststore.location=${caFile}`,
      "",
    ].join("\n"),
  );
  return file;
}

const LIBRDKAFKA = `
import json, sys
from confluent_kafka import Producer, Consumer
bootstrap, ca, mechanism, user, password, topic, count = sys.argv[1:8]
count = int(count)
common = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
          "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
errors = []
p = Producer({**common, "enable.idempotence": True, "error_cb": lambda e: errors.append(e.name())})
acked = []
for i in range(count):
    p.produce(topic, value=("%s-%d" % (mechanism, i)).encode(), partition=i % 6,
              on_delivery=lambda err, m: acked.append(None if err else m.value().decode()))
p.flush(30)
c = Consumer({**common, "group.id": "g-" + topic, "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "error_cb": lambda e: errors.append(e.name())})
c.subscribe([topic])
seen = []
import time
deadline = time.time() + 40
while time.time() < deadline and len(seen) < count:
    m = c.poll(0.5)
    if m is None: continue
    if m.error(): errors.append(m.error().name()); continue
    seen.append(m.value().decode())
c.close()
print(json.dumps({"acked": [a for a in acked if a], "seen": seen, "errors": errors}), flush=True)
`;

export interface RoundTrip {
  acked: string[];
  seen: string[];
  errors: string[];
}

/** librdkafka (confluent-kafka) produces `count` records to `topic` through the proxy, then consumes them. */
export function librdkafkaRoundTrip(
  bootstrap: string,
  caFile: string,
  mechanism: ClientMechanism,
  user: string,
  password: string,
  topic: string,
  count: number,
): Promise<RoundTrip> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      clientPython(),
      ["-c", LIBRDKAFKA, bootstrap, caFile, mechanism, user, password, topic, String(count)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`librdkafka exited ${code}:\n${stdout}\n${stderr.slice(-3000)}`));
        return;
      }
      resolve(JSON.parse(line) as RoundTrip);
    });
  });
}

/** TCP connections the process `pid` has open to `port` on the loopback (from /proc; established only). */
export function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    } catch {}
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = Number.parseInt(fields[2]!.split(":")[1]!, 16);
      if (remotePort === port && fields[3] === "01" && inodes.has(fields[9]!)) count++;
    }
  }
  return count;
}
