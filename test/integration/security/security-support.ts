/** Shared set-up of the security suites: a SASL_SSL Kafka, stored credentials, a proxy with TLS and SASL on both sides. */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { FrameReader } from "../../../src/net/frame-reader.ts";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import { addStoredUser } from "../../../src/security/credentials.ts";
import { runPythonJson } from "../../helpers/clients.ts";

export { runPythonJson };

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
  return runPythonJson<RoundTrip>(LIBRDKAFKA, [
    bootstrap,
    caFile,
    mechanism,
    user,
    password,
    topic,
    String(count),
  ]);
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

const LIBRDKAFKA_RUN = `
import json, os, sys, time
from confluent_kafka import Producer, Consumer
spec = json.loads(sys.stdin.read())
config = dict(spec["config"])
errors = []
config["error_cb"] = lambda e: errors.append({"name": e.name(), "message": e.str()})
if spec.get("token") is not None:
    token, expiry = spec["token"], float(spec["expiry"])
    config["oauth_cb"] = lambda _config: (token, expiry)
stop_on = set(spec.get("stop_on", []))
deadline = time.time() + spec.get("timeout_s", 40)
out = {"acked": [], "delivery_errors": [], "seen": [], "seen_partitions": [], "consume_errors": [], "errors": errors}
def stopped():
    names = [e["name"] for e in errors] + [e["name"] for e in out["delivery_errors"]] + [e["name"] for e in out["consume_errors"]]
    return any(name in stop_on for name in names)
def delivered(err, m):
    if err is None: out["acked"].append(m.value().decode())
    else: out["delivery_errors"].append({"name": err.name(), "message": err.str()})
if spec["produce"] > 0:
    p = Producer({**config, "message.timeout.ms": spec.get("message_timeout_ms", 30000)})
    for i in range(spec["produce"]):
        p.produce(spec["topic"], value=("%s-%d" % (spec["label"], i)).encode(), partition=i % spec["partitions"], on_delivery=delivered)
    while len(p) > 0 and time.time() < deadline and not stopped():
        p.poll(0.2)
    p.flush(0)
if spec.get("consume", 0) > 0 and not stopped():
    c = Consumer({**config, "group.id": spec.get("group", "g-" + spec["topic"]), "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([spec["topic"]])
    while time.time() < deadline and len(out["seen"]) < spec["consume"] and not stopped():
        m = c.poll(0.5)
        if m is None: continue
        if m.error(): out["consume_errors"].append({"name": m.error().name(), "message": m.error().str()}); continue
        out["seen"].append(m.value().decode())
        out["seen_partitions"].append(m.partition())
    c.close()
print(json.dumps(out), flush=True)
# What was seen is printed: skip librdkafka's teardown, which can abort ("double free") after failed authentication.
os._exit(0)
`;

export interface LibrdkafkaRunSpec {
  /** librdkafka properties (bootstrap.servers, security.protocol, ssl.*, sasl.*); error_cb is added. */
  config: Record<string, string | number | boolean>;
  topic: string;
  /** Records to produce (value `<label>-<i>` to partition i % partitions); 0 produces nothing. */
  produce: number;
  partitions: number;
  label: string;
  /** Records to consume from the start of the topic after producing (a consumer group of its own). */
  consume?: number;
  group?: string;
  /** OAUTHBEARER: the token oauth_cb hands librdkafka and the expiry it tells it (epoch seconds). */
  token?: string;
  expiry?: number;
  /** Error names (error_cb, delivery or consume) that end the run early. */
  stopOn?: string[];
  messageTimeoutMs?: number;
  timeoutS?: number;
}

export interface LibrdkafkaError {
  name: string;
  message: string;
}

export interface LibrdkafkaRunResult {
  acked: string[];
  delivery_errors: LibrdkafkaError[];
  seen: string[];
  /** The partition of each record in `seen`. */
  seen_partitions: number[];
  consume_errors: LibrdkafkaError[];
  /** What error_cb reported. */
  errors: LibrdkafkaError[];
}

/**
 * Runs librdkafka (confluent-kafka) with any security settings: produces, then consumes, and reports what was
 * acknowledged, consumed and every error by its librdkafka name. The spec (a token included) goes on stdin.
 */
export function librdkafkaRun(spec: LibrdkafkaRunSpec): Promise<LibrdkafkaRunResult> {
  const input = JSON.stringify({
    config: spec.config,
    topic: spec.topic,
    produce: spec.produce,
    partitions: spec.partitions,
    label: spec.label,
    consume: spec.consume ?? 0,
    group: spec.group,
    token: spec.token,
    expiry: spec.expiry,
    stop_on: spec.stopOn ?? [],
    message_timeout_ms: spec.messageTimeoutMs ?? 30_000,
    timeout_s: spec.timeoutS ?? 40,
  });
  return runPythonJson<LibrdkafkaRunResult>(LIBRDKAFKA_RUN, [], ((spec.timeoutS ?? 40) + 60) * 1000, input);
}

/** The proxy's JSON log lines, parsed (lines that are not JSON are left out). */
export function logLines(logs: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of logs.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {}
  }
  return lines;
}

/**
 * Whether the proxy logged a refused connection from `address` whose reason matches `reason`: the line logged at
 * once for the first refusal after a quiet interval, or the summary line counting later ones (`refused` by reason,
 * `addresses` by client address).
 */
export function refusalLogged(logs: string, reason: RegExp, address: string): boolean {
  return logLines(logs).some((line) => {
    if (typeof line.reason === "string" && reason.test(line.reason) && line.client === address) return true;
    const refused = line.refused as Record<string, number> | undefined;
    const addresses = line.addresses as Record<string, number> | undefined;
    return (
      refused !== undefined &&
      Object.keys(refused).some((key) => reason.test(key)) &&
      addresses?.[address] !== undefined
    );
  });
}

/**
 * A minimal Kafka protocol client over TLS that authenticates with SASL PLAIN, for requests no real client
 * sends as they are (e.g. a Produce without the Metadata lookup before it). Requests are answered in order.
 */
export class SaslTlsClient {
  private readonly socket: tls.TLSSocket;
  private readonly waiters: {
    correlationId: number;
    apiKey: number;
    apiVersion: number;
    resolve(body: unknown): void;
    reject(error: Error): void;
  }[] = [];
  private nextCorrelationId = 1;

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    const reader = new FrameReader(1 << 30, false);
    socket.on("data", (chunk: Buffer) =>
      reader.push(chunk, (frame) => {
        const waiter = this.waiters.shift();
        if (!waiter) return;
        const correlationId = frame.readInt32BE(4);
        if (correlationId !== waiter.correlationId) {
          waiter.reject(new Error(`expected correlation id ${waiter.correlationId}, got ${correlationId}`));
          return;
        }
        try {
          waiter.resolve(decodeResponse(waiter.apiKey, waiter.apiVersion, frame.subarray(4)).body);
        } catch (error) {
          waiter.reject(error as Error);
        }
      }),
    );
    socket.on("error", () => {});
    socket.once("close", () => {
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error("connection closed"));
    });
  }

  /** Connects to `address` over TLS (trusting `caFile`) and authenticates as `user` with SASL PLAIN. */
  static async connect(
    address: string,
    caFile: string,
    user: string,
    password: string,
  ): Promise<SaslTlsClient> {
    const [host, port] = address.split(":");
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({ host: host!, port: Number(port), ca: [readFileSync(caFile)] });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TLS connect to ${address} timed out`));
      }, 10_000);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const client = new SaslTlsClient(socket);
    const handshake = await client.request(ApiKey.SaslHandshake, 1, { mechanism: "PLAIN" });
    if (handshake.errorCode !== ErrorCode.NONE)
      throw new Error(`SaslHandshake failed with error ${handshake.errorCode}`);
    const authenticated = await client.request(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from(`\u0000${user}\u0000${password}`),
    });
    if (authenticated.errorCode !== ErrorCode.NONE) {
      client.close();
      throw new Error(`SaslAuthenticate failed with error ${authenticated.errorCode}`);
    }
    return client;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated message bodies
  request(apiKey: number, apiVersion: number, body: unknown, timeoutMs = 15_000): Promise<any> {
    const correlationId = this.nextCorrelationId++;
    this.socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId: "raw-sasl-test" }, body));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no response to api ${apiKey} v${apiVersion} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        correlationId,
        apiKey,
        apiVersion,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The proxy's `kafka` section for the cluster's SASL_SSL listener, logging in as the proxy's own SCRAM user. */
export function secureUpstream(kafka: KafkaTestCluster): Record<string, unknown> {
  return {
    bootstrap_servers: [kafka.sasl!.bootstrap],
    metadata_refresh_interval_secs: 5,
    security_protocol: "SASL_SSL",
    tls: { ca_cert_path: clusterTls(kafka).ca },
    sasl: { mechanism: "SCRAM-SHA-512", username: "admin", password: "${KPP_TEST_BROKER_PASSWORD}" },
  };
}

/**
 * A proxy with the given `listen.security` in front of the cluster's SASL_SSL listener (see `secureUpstream`);
 * `extra` holds further top-level sections (mapping, authorization, ...).
 */
export function startProxyBehindCluster(
  kafka: KafkaTestCluster,
  listenSecurity: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ProxyProcess> {
  return startProxy({
    upstream: kafka.sasl!.bootstrap,
    extra: { listen: { security: listenSecurity }, kafka: secureUpstream(kafka), ...extra },
    env: { KPP_TEST_BROKER_PASSWORD: "admin-secret" },
  });
}

/** Creates a topic through the cluster's own SASL_SSL listener (not through the proxy). */
export async function createClusterTopic(
  kafka: KafkaTestCluster,
  topic: string,
  partitions: number,
): Promise<void> {
  await kafka.toolOk("kafka-topics", [
    "--bootstrap-server",
    kafka.sasl!.bootstrap,
    "--command-config",
    kafka.sasl!.clientConfigs["SCRAM-SHA-512"],
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
  ]);
}

/** The value of one sample of a counter on the proxy's /metrics (0 when it has no sample yet). */
export async function metricValue(proxy: ProxyProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").pop()) : 0;
}
