/**
 * Acceptance of the authorization feature against a real SASL_SSL Kafka, with real clients (librdkafka through
 * confluent-kafka, KafkaJS, Kafka's Java console tools) authenticating to the proxy: two tenants, `acme` and
 * `globex`, each confined to its own prefix with allow rules on its topics, groups and transactional ids, and a
 * super user `platform`. Each tenant works on its own plain and virtualized topics with its own consumer groups
 * (classic and KIP-848) and transactions, and is refused the other's topics, groups and transactional ids with
 * the errors its client reports; nothing refused reaches the cluster, Metadata and group listings hide the other
 * tenant, and the refusals are logged, rate-limited, naming the principal and what it was refused. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import kafkajs from "kafkajs";
import { ApiKey, ErrorCode, ZERO_UUID } from "../../../src/protocol/api.ts";
import { buildBatch } from "../../../src/records/builder.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import type { ProxyProcess } from "../../helpers/proxy.ts";
import { onePartitionFetch } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";
import {
  type ClientMechanism,
  clusterTls,
  javaClientProperties,
  runPythonJson,
  SaslTlsClient,
  startSecureProxy,
  VIRTUAL_PREFIX,
  writeCredentials,
} from "./security-support.ts";

type Tenant = "acme" | "globex";
type KafkaJsMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

interface User {
  readonly name: string;
  readonly password: string;
  /** How librdkafka authenticates (the principal is the user name whatever the mechanism). */
  readonly mechanism: ClientMechanism;
  readonly kafkajs: KafkaJsMechanism;
}

const USERS: Readonly<Record<Tenant | "platform", User>> = {
  acme: { name: "acme", password: "acme-tenant-pw", mechanism: "SCRAM-SHA-512", kafkajs: "scram-sha-512" },
  globex: { name: "globex", password: "globex-tenant-pw", mechanism: "PLAIN", kafkajs: "plain" },
  platform: {
    name: "platform",
    password: "platform-super-pw",
    mechanism: "SCRAM-SHA-256",
    kafkajs: "scram-sha-256",
  },
};
const TENANTS: readonly Tenant[] = ["acme", "globex"];
const other = (tenant: Tenant): Tenant => (tenant === "acme" ? "globex" : "acme");

/** Marks this file's names: other test files of the run may share the cluster, and kept logs tell runs apart. */
const RUN = Math.random().toString(36).slice(2, 6);
type Kind = "plain" | "virtualized";
const KINDS: readonly Kind[] = ["plain", "virtualized"];
const PLAIN_PARTITIONS = 3;
const VIRTUAL_PARTITIONS = 6;
const PHYSICAL_PARTITIONS = 2;

/** What a topic is for: the tests of all clients, the Java tools' (which read a topic from its start), or the
 * output of the exactly-once test. */
type Use = "shared" | "java" | "eos";
const USES: readonly Use[] = ["shared", "java", "eos"];
const TOPIC_BASES: Readonly<Record<Use, Readonly<Record<Kind, string>>>> = {
  shared: { plain: "orders", virtualized: "virt-events" },
  java: { plain: "java-orders", virtualized: "virt-java" },
  eos: { plain: "eos-out", virtualized: "virt-eos-out" },
};

/** The tenant's topic of each kind and use: `acme.orders-…` (3 partitions), `acme.virt-events-…` (6 on 2), … */
function topicOf(tenant: Tenant, kind: Kind, use: Use = "shared"): string {
  return `${tenant}.${TOPIC_BASES[use][kind]}-${RUN}`;
}
/** The partitions clients see. */
const partitionsOf = (kind: Kind) => (kind === "plain" ? PLAIN_PARTITIONS : VIRTUAL_PARTITIONS);
/** Each of the tenant's topics with the partitions clients see. */
function topicsOf(tenant: Tenant): [string, number][] {
  return USES.flatMap((use) =>
    KINDS.map((kind): [string, number] => [topicOf(tenant, kind, use), partitionsOf(kind)]),
  );
}
const ownTopics = (tenant: Tenant) => topicsOf(tenant).map(([topic]) => topic);
const ALL_TOPICS = TENANTS.flatMap(ownTopics);

/** Rules on the tenant's own prefix: read and write its topics, use its groups and transactional ids. */
function prefixRules(prefix: string) {
  return [
    {
      effect: "allow",
      resource: "topic",
      pattern: prefix,
      pattern_type: "prefixed",
      operations: ["read", "write", "describe"],
    },
    {
      effect: "allow",
      resource: "group",
      pattern: prefix,
      pattern_type: "prefixed",
      operations: ["read", "describe"],
    },
    {
      effect: "allow",
      resource: "transactional_id",
      pattern: prefix,
      pattern_type: "prefixed",
      operations: ["write", "describe"],
    },
  ];
}

const AUTHORIZATION = {
  super_users: ["platform"],
  principals: {
    // acme's rules name its prefix only: the rules alone refuse globex's names.
    acme: { confine_to_prefix: "acme.", rules: prefixRules("acme.") },
    // globex's rules also allow every name: only the confinement keeps it out of acme's.
    globex: {
      confine_to_prefix: "globex.",
      rules: [
        ...prefixRules("globex."),
        { effect: "allow", resource: "topic", pattern: "*", operations: ["read", "describe"] },
        { effect: "allow", resource: "group", pattern: "*", operations: ["read", "describe"] },
        { effect: "allow", resource: "transactional_id", pattern: "*", operations: ["write", "describe"] },
      ],
    },
  },
};

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;
let ca: string;
let dir: string;
/** An admin of the cluster itself (its own SASL_SSL listener, the harness's admin user), not through the proxy. */
let clusterAdmin: kafkajs.Admin;

before(async () => {
  kafka = await useKafkaCluster({ brokers: 1, version: "4", security: "sasl_ssl" });
  dir = mkdtempSync(join(tmpdir(), "kpp-authz-"));
  ca = clusterTls(kafka).ca;
  const credentials = writeCredentials(
    dir,
    Object.fromEntries(Object.values(USERS).map((user) => [user.name, user.password])),
  );
  proxy = await startSecureProxy(kafka, credentials, {
    authorization: AUTHORIZATION,
    mapping: {
      topics: {
        [`^${VIRTUAL_PREFIX}.*`]: { virtual_partitions: 6, physical_partitions: 2 },
        "^(acme|globex)\\.virt-.*": {
          virtual_partitions: VIRTUAL_PARTITIONS,
          physical_partitions: PHYSICAL_PARTITIONS,
        },
      },
    },
  });
  clusterAdmin = new kafkajs.Kafka({
    brokers: [kafka.sasl!.bootstrap],
    clientId: "authz-cluster-admin",
    ssl: { ca: [readFileSync(ca)] },
    sasl: { mechanism: "scram-sha-512", username: "admin", password: "admin-secret" },
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await clusterAdmin.connect();
  const created = await clusterAdmin.createTopics({
    waitForLeaders: true,
    topics: TENANTS.flatMap((tenant) =>
      USES.flatMap((use) => [
        { topic: topicOf(tenant, "plain", use), numPartitions: PLAIN_PARTITIONS },
        { topic: topicOf(tenant, "virtualized", use), numPartitions: PHYSICAL_PARTITIONS },
      ]),
    ),
  });
  assert.equal(created, true, "the tenants' topics were created");
});

after(async () => {
  await clusterAdmin?.disconnect();
  await proxy?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// librdkafka (confluent-kafka): one script, one action per run, a JSON answer on its last line.

const LIBRDKAFKA = `
import json, sys, time
from confluent_kafka import Producer, Consumer, KafkaException
from confluent_kafka.admin import AdminClient
spec = json.loads(sys.argv[1])
common = {"bootstrap.servers": spec["bootstrap"], "security.protocol": "SASL_SSL", "ssl.ca.location": spec["ca"],
          "sasl.mechanism": spec["mechanism"], "sasl.username": spec["user"], "sasl.password": spec["password"],
          "client.id": "authz-" + spec["user"]}
errors = []
def on_error(e):
    errors.append(e.name())
out = {}

def produce(topic, values, partitions):
    p = Producer({**common, "enable.idempotence": True, "message.timeout.ms": 20000, "error_cb": on_error})
    reports = []
    def report(err, m):
        reports.append(err.name() if err else "OK:" + m.value().decode())
    for i, value in enumerate(values):
        if partitions:
            p.produce(topic, value=value.encode(), partition=i % partitions, on_delivery=report)
        else:
            p.produce(topic, value=value.encode(), on_delivery=report)
    out["unflushed"] = p.flush(40)
    out["reports"] = reports

def consume(topic, group, count, seconds, isolation, until_error, protocol="classic", idle=None):
    # until count records, an error named until_error, idle seconds without a record after one, or seconds
    c = Consumer({**common, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": isolation, "group.protocol": protocol, "error_cb": on_error})
    c.subscribe([topic])
    seen, poll_errors = [], []
    deadline = time.time() + seconds
    last = time.time()
    while time.time() < deadline and len(seen) < count:
        if idle is not None and seen and time.time() - last > idle:
            break
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            poll_errors.append(m.error().name())
            if until_error and m.error().name() == until_error:
                break
            continue
        seen.append(m.value().decode())
        last = time.time()
    if seen:
        try:
            out["commit"] = sorted(set(tp.error.name() if tp.error else "OK" for tp in c.commit(asynchronous=False)))
        except KafkaException as e:
            out["commit"] = [e.args[0].name()]
    c.close()
    out["seen"] = seen
    out["poll_errors"] = poll_errors

action = spec["action"]
if action == "roundtrip":
    produce(spec["topic"], spec["values"], spec["partitions"])
    consume(spec["topic"], spec["group"], len(spec["values"]), 40, "read_uncommitted", None)
elif action == "produce":
    produce(spec["topic"], spec["values"], 0)
elif action == "consume":
    consume(spec["topic"], spec["group"], spec.get("count", 1), spec["seconds"], spec.get("isolation", "read_uncommitted"),
            spec.get("until_error"), spec.get("protocol", "classic"), spec.get("idle"))
elif action == "list":
    admin = AdminClient({**common, "error_cb": on_error})
    if spec.get("all"):
        md = admin.list_topics(timeout=20)
        out["topics"] = {name: {"partitions": len(t.partitions), "error": t.error.name() if t.error else None}
                         for name, t in md.topics.items()}
    out["probes"] = {}
    for topic in spec.get("probes", []):
        md = admin.list_topics(topic=topic, timeout=20)
        t = md.topics.get(topic)
        out["probes"][topic] = None if t is None else (t.error.name() if t.error else len(t.partitions))
elif action == "transaction":
    p = Producer({**common, "transactional.id": spec["transactional_id"], "error_cb": on_error})
    reports = []
    try:
        p.init_transactions(30)
        p.begin_transaction()
        for value in spec["values"]:
            p.produce(spec["topic"], value=value.encode(),
                      on_delivery=lambda err, m: reports.append(err.name() if err else "OK:" + m.value().decode()))
        p.commit_transaction(30)
        out["result"] = "COMMITTED"
    except KafkaException as e:
        out["result"] = e.args[0].name()
    out["reports"] = reports
elif action == "exactly_once":
    # consume-transform-produce: read all of the input with the group (until 4 s without a record), write a copy of
    # each record to the output and commit the group's offsets in one transaction
    c = Consumer({**common, "group.id": spec["group"], "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "error_cb": on_error})
    c.subscribe([spec["input"]])
    read = []
    deadline = time.time() + 40
    last = time.time()
    while time.time() < deadline and not (read and time.time() - last > 4):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        read.append(m.value().decode())
        last = time.time()
    out["read"] = read
    p = Producer({**common, "transactional.id": spec["transactional_id"], "error_cb": on_error})
    reports = []
    try:
        p.init_transactions(30)
        p.begin_transaction()
        for value in read:
            p.produce(spec["output"], value=("copy-" + value).encode(),
                      on_delivery=lambda err, m: reports.append(err.name() if err else "OK:" + m.value().decode()))
        metadata = c.consumer_group_metadata()
        if spec.get("offsets_group"):
            # the offsets committed for another group (its metadata from a consumer that never joins it)
            metadata = Consumer({**common, "group.id": spec["offsets_group"]}).consumer_group_metadata()
        p.send_offsets_to_transaction(c.position(c.assignment()), metadata, 30)
        p.commit_transaction(30)
        out["result"] = "COMMITTED"
    except KafkaException as e:
        out["result"] = e.args[0].name()
        try:
            p.abort_transaction(30)
            out["aborted"] = True
        except KafkaException as abort:
            out["aborted"] = abort.args[0].name()
    out["reports"] = reports
    c.close()
out["errors"] = errors
print(json.dumps(out), flush=True)
`;

interface RdkafkaAnswer {
  reports?: string[];
  unflushed?: number;
  seen?: string[];
  poll_errors?: string[];
  commit?: string[];
  topics?: Record<string, { partitions: number; error: string | null }>;
  /** Per topic asked for: its partition count, or the error librdkafka reports for it. */
  probes?: Record<string, number | string | null>;
  result?: string;
  read?: string[];
  aborted?: boolean | string;
  errors: string[];
}

function rdkafka(user: User, spec: Record<string, unknown>): Promise<RdkafkaAnswer> {
  return runPythonJson<RdkafkaAnswer>(
    LIBRDKAFKA,
    [
      JSON.stringify({
        bootstrap: proxy.bootstrap,
        ca,
        mechanism: user.mechanism,
        user: user.name,
        password: user.password,
        ...spec,
      }),
    ],
    120_000,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// KafkaJS

/** What KafkaJS logs: a message and its fields (an `error` field holds the Error object). */
interface KafkaJsLogEntry {
  message: string;
  [field: string]: unknown;
}

/** A KafkaJS client of `user` through the proxy; with `debug`, every log entry of KafkaJS is kept there. */
function kafkajsClient(user: User, debug?: KafkaJsLogEntry[]): kafkajs.Kafka {
  return new kafkajs.Kafka({
    brokers: [proxy.bootstrap],
    clientId: `authz-kafkajs-${user.name}`,
    ssl: { ca: [readFileSync(ca)] },
    sasl: { mechanism: user.kafkajs, username: user.name, password: user.password } as kafkajs.SASLOptions,
    retry: { retries: 3, initialRetryTime: 200 },
    ...(debug
      ? {
          logLevel: kafkajs.logLevel.DEBUG,
          logCreator: () => (entry: kafkajs.LogEntry) => void debug.push(entry.log as KafkaJsLogEntry),
        }
      : { logLevel: kafkajs.logLevel.NOTHING }),
  });
}

/** `promise`, or a rejection naming `what` when it does not settle within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting until ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The Kafka error type KafkaJS reports: the `type` of the error or of the first of its causes that has one. */
function kafkajsErrorType(error: unknown): string | undefined {
  let current = error as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; current && depth < 10; depth++) {
    if (typeof current.type === "string") return current.type;
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return undefined;
}

/** Resolves to the KafkaJS error type `action` rejects with; fails when it succeeds. */
async function kafkajsRefusal(what: string, action: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await action();
  } catch (error) {
    return kafkajsErrorType(error) ?? `untyped: ${(error as Error).message}`;
  }
  assert.fail(`${what} succeeded`);
}

/** The records of every partition of each topic, as the cluster holds them (end offsets, physical partitions). */
async function clusterEndOffsets(topics: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const topic of topics) {
    const offsets = await clusterAdmin.fetchTopicOffsets(topic);
    for (const { partition, high } of offsets) out[`${topic}/${partition}`] = high;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

test("each tenant produces and consumes its own plain and virtualized topics with librdkafka and its own group", {
  timeout: 300_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      for (const kind of KINDS) {
        const topic = topicOf(tenant, kind);
        const values = Array.from({ length: 12 }, (_, i) => `${tenant}-rdkafka-${kind}-${i}`);
        const answer = await rdkafka(USERS[tenant], {
          action: "roundtrip",
          topic,
          values,
          partitions: partitionsOf(kind),
          group: `${tenant}.rdkafka-${kind}-${RUN}`,
        });
        const label = `${tenant} ${kind}: ${JSON.stringify(answer)}`;
        assert.deepEqual([...answer.reports!].sort(), values.map((value) => `OK:${value}`).sort(), label);
        assert.deepEqual([...answer.seen!].sort(), [...values].sort(), label);
        assert.deepEqual(answer.commit, ["OK"], label);
        assert.deepEqual(answer.poll_errors, [], label);
        assert.deepEqual(answer.errors, [], label);
      }
    }),
  );
});

test("each tenant produces and consumes its own plain and virtualized topics with KafkaJS and its own group", {
  timeout: 300_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      const client = kafkajsClient(USERS[tenant]);
      for (const kind of KINDS) {
        const topic = topicOf(tenant, kind);
        const values = Array.from(
          { length: partitionsOf(kind) * 2 },
          (_, i) => `${tenant}-kafkajs-${kind}-${i}`,
        );
        const producer = client.producer();
        await producer.connect();
        try {
          const sent = await producer.send({
            topic,
            messages: values.map((value, i) => ({ value, partition: i % partitionsOf(kind) })),
          });
          assert.equal(
            sent.every((result) => result.errorCode === ErrorCode.NONE),
            true,
            `${tenant} ${kind}: ${JSON.stringify(sent)}`,
          );
        } finally {
          await producer.disconnect();
        }
        const consumer = client.consumer({ groupId: `${tenant}.kafkajs-${kind}-${RUN}` });
        const seen: string[] = [];
        await consumer.connect();
        try {
          await consumer.subscribe({ topic, fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ message }) => {
              const value = message.value!.toString();
              if (value.includes("-kafkajs-")) seen.push(value);
            },
          });
          await waitFor(
            `${tenant} ${kind}: KafkaJS consumed ${seen.length} of ${values.length}`,
            async () => seen.length >= values.length || undefined,
            60_000,
          );
        } finally {
          await consumer.disconnect();
        }
        assert.deepEqual([...seen].sort(), [...values].sort(), `${tenant} ${kind}`);
      }
    }),
  );
});

/** A regular expression matching `text` literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Kafka's console tools as `tenant`, through the proxy. */
function javaTool(tenant: Tenant, name: string, args: string[], input?: string) {
  const user = USERS[tenant];
  const properties = javaClientProperties(dir, user.mechanism, user.name, user.password, ca);
  return kafka.tool(name, ["--bootstrap-server", proxy.bootstrap, "--command-config", properties, ...args], {
    timeoutMs: 90_000,
    ...(input === undefined ? {} : { input }),
  });
}

test("the Java console tools of each tenant produce and consume its own topics with its group, and are refused the other's topics and groups", {
  timeout: 600_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      for (const kind of KINDS) {
        const topic = topicOf(tenant, kind, "java");
        const values = Array.from({ length: 6 }, (_, i) => `${tenant}-java-${kind}-${i}`);
        const produced = await javaTool(
          tenant,
          "kafka-console-producer",
          ["--topic", topic, "--command-property", "acks=all"],
          `${values.join("\n")}\n`,
        );
        assert.equal(produced.exitCode, 0, `${tenant} ${kind} producer: ${produced.stderr}`);
        const consumed = await javaTool(tenant, "kafka-console-consumer", [
          "--topic",
          topic,
          "--group",
          `${tenant}.java-${kind}-${RUN}`,
          "--from-beginning",
          "--max-messages",
          String(values.length),
          "--timeout-ms",
          "40000",
        ]);
        assert.equal(consumed.exitCode, 0, `${tenant} ${kind} consumer: ${consumed.stderr}`);
        assert.deepEqual(consumed.stdout.trim().split("\n").sort(), [...values].sort(), `${tenant} ${kind}`);
      }

      const theirs = topicOf(other(tenant), "plain", "java");
      const intruding = await javaTool(
        tenant,
        "kafka-console-producer",
        ["--topic", theirs, "--command-property", "max.block.ms=20000"],
        `${tenant}-java-intrudes\n`,
      );
      assert.equal(intruding.timedOut, false, `${tenant} producing to ${theirs}`);
      assert.match(
        intruding.stderr,
        new RegExp(`TopicAuthorizationException: Not authorized to access topics: \\[${literal(theirs)}\\]`),
        `${tenant} producing to ${theirs}: ${intruding.stderr}`,
      );
      const snooping = await javaTool(tenant, "kafka-console-consumer", [
        "--topic",
        theirs,
        "--group",
        `${tenant}.java-snoop-${RUN}`,
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "20000",
      ]);
      // The console consumer reports the error and ends (with exit code 0, as it does for any error).
      assert.equal(snooping.timedOut, false, `${tenant} consuming ${theirs}`);
      assert.match(
        snooping.stderr,
        new RegExp(`TopicAuthorizationException: Not authorized to access topics: \\[${literal(theirs)}\\]`),
        `${tenant} consuming ${theirs}`,
      );
      assert.match(snooping.stderr, /Processed a total of 0 messages/, `${tenant} consuming ${theirs}`);
      assert.equal(snooping.stdout.trim(), "", `${tenant} read ${theirs}`);
      const joining = await javaTool(tenant, "kafka-console-consumer", [
        "--topic",
        topicOf(tenant, "plain", "java"),
        "--group",
        `${other(tenant)}.java-plain-${RUN}`,
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "20000",
      ]);
      assert.equal(joining.timedOut, false, `${tenant} joining ${other(tenant)}'s group`);
      assert.match(
        joining.stderr,
        new RegExp(
          `GroupAuthorizationException: Not authorized to access group: ${literal(`${other(tenant)}.java-plain-${RUN}`)}`,
        ),
        `${tenant} joining ${other(tenant)}'s group: ${joining.stderr}`,
      );
      assert.match(
        joining.stderr,
        /Processed a total of 0 messages/,
        `${tenant} joining ${other(tenant)}'s group`,
      );
      assert.equal(joining.stdout.trim(), "", `${tenant} consumed in ${other(tenant)}'s group`);
    }),
  );
  // The refused record never reached the cluster: each Java topic holds its owner's six records.
  const offsets = await clusterEndOffsets(TENANTS.map((tenant) => topicOf(tenant, "plain", "java")));
  for (const tenant of TENANTS) {
    const topic = topicOf(tenant, "plain", "java");
    const total = Object.entries(offsets)
      .filter(([partition]) => partition.startsWith(`${topic}/`))
      .reduce((sum, [, high]) => sum + Number(high), 0);
    assert.equal(total, 6, `records in ${topic}: ${JSON.stringify(offsets)}`);
  }
});

test("in Metadata neither tenant sees the other's topics, and the super user sees both (KafkaJS and librdkafka)", {
  timeout: 180_000,
}, async () => {
  for (const tenant of TENANTS) {
    const own = ownTopics(tenant).sort();
    const admin = kafkajsClient(USERS[tenant]).admin();
    await admin.connect();
    try {
      assert.deepEqual((await admin.listTopics()).sort(), own, `${tenant}: KafkaJS listTopics`);
      const theirs = topicOf(other(tenant), "plain");
      const type = await kafkajsRefusal(`KafkaJS ${tenant} describes ${theirs}`, () =>
        admin.fetchTopicMetadata({ topics: [theirs] }),
      );
      assert.equal(type, "TOPIC_AUTHORIZATION_FAILED", `KafkaJS ${tenant} describes ${theirs}`);
    } finally {
      await admin.disconnect();
    }
    const listed = await rdkafka(USERS[tenant], { action: "list", probes: ALL_TOPICS });
    assert.deepEqual(
      listed.probes,
      Object.fromEntries(
        TENANTS.flatMap((owner) =>
          topicsOf(owner).map(([topic, partitions]) => [
            topic,
            owner === tenant ? partitions : "TOPIC_AUTHORIZATION_FAILED",
          ]),
        ),
      ),
      `${tenant}: librdkafka list_topics(topic)`,
    );
  }

  const admin = kafkajsClient(USERS.platform).admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    for (const topic of ALL_TOPICS)
      assert.ok(topics.includes(topic), `the super user's listing lacks ${topic}`);
  } finally {
    await admin.disconnect();
  }
  const listed = await rdkafka(USERS.platform, { action: "list", probes: ALL_TOPICS });
  assert.deepEqual(
    listed.probes,
    Object.fromEntries(TENANTS.flatMap(topicsOf)),
    "the super user: librdkafka list_topics(topic)",
  );
});

/** librdkafka sends a few bytes after its all-topics Metadata request; the proxy ignores them, as brokers do. */
test("librdkafka's list_topics() of all topics shows each tenant its own topics and the super user both", {
  timeout: 180_000,
}, async () => {
  for (const tenant of TENANTS) {
    const listed = await rdkafka(USERS[tenant], { action: "list", all: true });
    assert.deepEqual(
      listed.topics,
      Object.fromEntries(topicsOf(tenant).map(([topic, partitions]) => [topic, { partitions, error: null }])),
      `${tenant}: librdkafka list_topics()`,
    );
  }
  const listed = await rdkafka(USERS.platform, { action: "list", all: true });
  for (const topic of ALL_TOPICS)
    assert.ok(topic in listed.topics!, `the super user's listing lacks ${topic}`);
});

test("each tenant's produce to the other's topics is refused with TOPIC_AUTHORIZATION_FAILED, and nothing is written", {
  timeout: 300_000,
}, async () => {
  const before = await clusterEndOffsets(ALL_TOPICS);
  for (const tenant of TENANTS) {
    for (const kind of KINDS) {
      const topic = topicOf(other(tenant), kind);
      const values = [`${tenant}-intrudes-${kind}-1`, `${tenant}-intrudes-${kind}-2`];
      const answer = await rdkafka(USERS[tenant], { action: "produce", topic, values });
      assert.deepEqual(
        answer.reports,
        ["TOPIC_AUTHORIZATION_FAILED", "TOPIC_AUTHORIZATION_FAILED"],
        `librdkafka ${tenant} -> ${topic}: ${JSON.stringify(answer)}`,
      );

      const producer = kafkajsClient(USERS[tenant]).producer();
      await producer.connect();
      try {
        const type = await kafkajsRefusal(`KafkaJS ${tenant} -> ${topic}`, () =>
          producer.send({ topic, messages: [{ value: `${tenant}-kafkajs-intrudes` }] }),
        );
        assert.equal(type, "TOPIC_AUTHORIZATION_FAILED", `KafkaJS ${tenant} -> ${topic}`);
      } finally {
        await producer.disconnect();
      }
    }
    // A client that skips Metadata and sends the Produce itself gets the same refusal from the proxy.
    const raw = await SaslTlsClient.connect(proxy.bootstrap, ca, tenant, USERS[tenant].password);
    try {
      const topic = topicOf(other(tenant), "plain");
      const response = await raw.request(ApiKey.Produce, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: topic,
            topicId: ZERO_UUID,
            partitionData: [0, 1, 2].map((index) => ({
              index,
              records: buildBatch({ records: [{ value: Buffer.from(`${tenant}-raw-intrudes`) }] }),
            })),
          },
        ],
      });
      const errors = response.responses.flatMap(
        (t: { name: string; partitionResponses: { index: number; errorCode: number }[] }) =>
          t.partitionResponses.map((p) => `${t.name}/${p.index}:${p.errorCode}`),
      );
      assert.deepEqual(
        errors.sort(),
        [0, 1, 2].map((p) => `${topic}/${p}:${ErrorCode.TOPIC_AUTHORIZATION_FAILED}`),
        `raw Produce of ${tenant}`,
      );
    } finally {
      raw.close();
    }
  }
  assert.deepEqual(await clusterEndOffsets(ALL_TOPICS), before, "no refused record reached the cluster");
});

test("each tenant's consumer of the other's topics is refused with TOPIC_AUTHORIZATION_FAILED and reads nothing", {
  timeout: 300_000,
}, async () => {
  for (const tenant of TENANTS) {
    for (const kind of KINDS) {
      const topic = topicOf(other(tenant), kind);
      const answer = await rdkafka(USERS[tenant], {
        action: "consume",
        topic,
        group: `${tenant}.snoop-${kind}-${RUN}`,
        seconds: 30,
        until_error: "TOPIC_AUTHORIZATION_FAILED",
      });
      const label = `librdkafka ${tenant} <- ${topic}: ${JSON.stringify(answer)}`;
      assert.deepEqual(answer.seen, [], label);
      assert.ok(answer.poll_errors!.includes("TOPIC_AUTHORIZATION_FAILED"), label);

      const consumer = kafkajsClient(USERS[tenant]).consumer({
        groupId: `${tenant}.kafkajs-snoop-${kind}-${RUN}`,
      });
      await consumer.connect();
      try {
        const type = await kafkajsRefusal(`KafkaJS ${tenant} subscribes to ${topic}`, () =>
          consumer.subscribe({ topic, fromBeginning: true }),
        );
        assert.equal(type, "TOPIC_AUTHORIZATION_FAILED", `KafkaJS ${tenant} <- ${topic}`);
      } finally {
        await consumer.disconnect();
      }
    }
    // A client that skips Metadata and fetches by itself reads nothing either.
    const raw = await SaslTlsClient.connect(proxy.bootstrap, ca, tenant, USERS[tenant].password);
    try {
      const topic = topicOf(other(tenant), "plain");
      const response = await raw.request(ApiKey.Fetch, 12, onePartitionFetch(topic, 0, 0n, 1 << 20));
      const partitions = response.responses.flatMap(
        (t: {
          topic: string;
          partitions: { partitionIndex: number; errorCode: number; records: Buffer | null }[];
        }) =>
          t.partitions.map((p) => ({
            partition: `${t.topic}/${p.partitionIndex}`,
            errorCode: p.errorCode,
            bytes: p.records?.length ?? 0,
          })),
      );
      assert.deepEqual(
        partitions,
        [{ partition: `${topic}/0`, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, bytes: 0 }],
        `raw Fetch of ${tenant}`,
      );
    } finally {
      raw.close();
    }
  }
});

test("each tenant is refused the other's consumer groups with GROUP_AUTHORIZATION_FAILED", {
  timeout: 300_000,
}, async () => {
  /** Groups only refused clients asked for. */
  const stolen: string[] = [];
  for (const tenant of TENANTS) {
    const ownTopic = topicOf(tenant, "plain");
    // The group the other tenant's librdkafka consumer uses (in the first test).
    const group = `${other(tenant)}.rdkafka-plain-${RUN}`;
    const answer = await rdkafka(USERS[tenant], {
      action: "consume",
      topic: ownTopic,
      group,
      seconds: 30,
      until_error: "GROUP_AUTHORIZATION_FAILED",
    });
    const label = `librdkafka ${tenant} joins ${group}: ${JSON.stringify(answer)}`;
    assert.deepEqual(answer.seen, [], label);
    assert.ok(answer.poll_errors!.includes("GROUP_AUTHORIZATION_FAILED"), label);

    // KafkaJS asks every broker for the coordinator and, each refusing, gives up with
    // KafkaJSGroupCoordinatorNotFound (as it does against Kafka's own ACLs); the error each answer carried is in
    // its debug log.
    const kafkajsGroup = `${other(tenant)}.kafkajs-join-${RUN}`;
    stolen.push(kafkajsGroup);
    const debug: KafkaJsLogEntry[] = [];
    const consumer = kafkajsClient(USERS[tenant], debug).consumer({
      groupId: kafkajsGroup,
      retry: { retries: 0, restartOnFailure: async () => false },
    });
    let seen = 0;
    await consumer.connect();
    try {
      const crashed = new Promise<Error>((resolve) =>
        consumer.on(consumer.events.CRASH, (event) => resolve(event.payload.error)),
      );
      await consumer.subscribe({ topic: ownTopic, fromBeginning: true });
      const ran = consumer.run({ eachMessage: async () => void seen++ });
      const error = await within(30_000, `KafkaJS ${tenant} joining ${kafkajsGroup} fails`, crashed);
      await ran.catch(() => {});
      assert.equal(error.name, "KafkaJSGroupCoordinatorNotFound", `KafkaJS ${tenant}: ${error.stack}`);
      const answers = debug
        .filter(
          (entry) => entry.message === "Tried to find group coordinator" && entry.groupId === kafkajsGroup,
        )
        .map((entry) => kafkajsErrorType(entry.error));
      assert.ok(answers.length > 0, `KafkaJS ${tenant} logged no FindCoordinator answer`);
      assert.deepEqual(
        [...new Set(answers)],
        ["GROUP_AUTHORIZATION_FAILED"],
        `the FindCoordinator answers KafkaJS ${tenant} got for ${kafkajsGroup}`,
      );
    } finally {
      await consumer.disconnect();
    }
    assert.equal(seen, 0, `KafkaJS ${tenant} consumed in ${kafkajsGroup}`);
  }
  // The refused groups never reached the broker, while the groups the tenants may use do.
  const controls: Record<Tenant, string> = { acme: `acme.control-${RUN}`, globex: `globex.control-${RUN}` };
  for (const tenant of TENANTS) {
    const consumer = kafkajsClient(USERS[tenant]).consumer({ groupId: controls[tenant] });
    await consumer.connect();
    try {
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.subscribe({ topic: topicOf(tenant, "plain"), fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      await within(30_000, `${tenant} joins ${controls[tenant]}`, joined);
    } finally {
      await consumer.disconnect();
    }
  }
  const atBroker = (await clusterAdmin.listGroups()).groups.map((group) => group.groupId);
  // Virtualization keeps companion groups at the broker (`<group>.__kpp-vg.<n>`) that no client sees.
  const groups = atBroker.filter((group) => !group.includes(".__kpp-vg."));
  for (const group of Object.values(controls)) {
    assert.ok(groups.includes(group), `${group} is not at the broker: ${JSON.stringify(groups)}`);
  }
  for (const group of stolen) {
    assert.equal(
      atBroker.some((name) => name === group || name.startsWith(`${group}.__kpp-vg.`)),
      false,
      `${group} exists at the broker`,
    );
  }

  // ListGroups shows each tenant its own groups only, and the super user every group.
  for (const tenant of TENANTS) {
    const admin = kafkajsClient(USERS[tenant]).admin();
    await admin.connect();
    try {
      const listed = (await admin.listGroups()).groups.map((group) => group.groupId);
      assert.ok(listed.includes(controls[tenant]), `${tenant} lists ${JSON.stringify(listed)}`);
      assert.deepEqual(
        listed.filter((group) => !group.startsWith(`${tenant}.`)),
        [],
        `${tenant} lists groups not its own`,
      );
      assert.deepEqual(
        [...listed].sort(),
        groups.filter((group) => group.startsWith(`${tenant}.`)).sort(),
        `${tenant} lists all of its groups`,
      );
    } finally {
      await admin.disconnect();
    }
  }
  const admin = kafkajsClient(USERS.platform).admin();
  await admin.connect();
  try {
    const listed = (await admin.listGroups()).groups.map((group) => group.groupId);
    assert.deepEqual([...listed].sort(), [...groups].sort(), "the super user lists every group");
  } finally {
    await admin.disconnect();
  }
});

test("a transactional producer may use its own transactional id but not the other tenant's (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)", {
  timeout: 300_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      const topic = topicOf(tenant, "plain");
      const values = [`${tenant}-txn-1`, `${tenant}-txn-2`, `${tenant}-txn-3`];
      const own = await rdkafka(USERS[tenant], {
        action: "transaction",
        transactional_id: `${tenant}.tx-${RUN}`,
        topic,
        values,
      });
      assert.equal(own.result, "COMMITTED", `${tenant} with its own id: ${JSON.stringify(own)}`);
      assert.deepEqual([...own.reports!].sort(), values.map((value) => `OK:${value}`).sort());
      const read = await rdkafka(USERS[tenant], {
        action: "consume",
        topic,
        group: `${tenant}.txn-reader-${RUN}`,
        count: 1_000,
        seconds: 30,
        idle: 3,
        isolation: "read_committed",
      });
      assert.deepEqual(
        read.seen!.filter((value) => value.startsWith(`${tenant}-txn-`)).sort(),
        [...values].sort(),
        `${tenant}'s committed transaction: ${JSON.stringify(read)}`,
      );

      const theirs = `${other(tenant)}.tx-${RUN}`;
      const refused = await rdkafka(USERS[tenant], {
        action: "transaction",
        transactional_id: theirs,
        topic,
        values: [`${tenant}-stolen-txn`],
      });
      assert.equal(
        refused.result,
        "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        `${tenant} with ${theirs}: ${JSON.stringify(refused)}`,
      );
      assert.deepEqual(refused.reports, [], `${tenant} with ${theirs}`);
    }),
  );
});

test("exactly-once: a tenant copies its topic in transactions committing its own group's offsets, but not another tenant's group's", {
  timeout: 300_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      const input = topicOf(tenant, "plain");
      const output = topicOf(tenant, "plain", "eos");
      const seed = [`${tenant}-eos-seed-1`, `${tenant}-eos-seed-2`, `${tenant}-eos-seed-3`];
      const seeded = await rdkafka(USERS[tenant], { action: "produce", topic: input, values: seed });
      assert.deepEqual(
        [...seeded.reports!].sort(),
        seed.map((value) => `OK:${value}`),
        JSON.stringify(seeded),
      );

      const group = `${tenant}.eos-${RUN}`;
      const copied = await rdkafka(USERS[tenant], {
        action: "exactly_once",
        input,
        output,
        group,
        transactional_id: `${tenant}.eos-tx-${RUN}`,
      });
      const label = `${tenant} copies ${input}: ${JSON.stringify(copied)}`;
      assert.equal(copied.result, "COMMITTED", label);
      for (const value of seed) assert.ok(copied.read!.includes(value), label);
      assert.deepEqual(
        [...copied.reports!].sort(),
        copied.read!.map((value) => `OK:copy-${value}`).sort(),
        label,
      );
      // The group's offsets, committed in the transaction, are the input's end offsets (none for an empty partition).
      const ends = await clusterAdmin.fetchTopicOffsets(input);
      const [committed] = await clusterAdmin.fetchOffsets({ groupId: group, topics: [input] });
      assert.deepEqual(
        committed!.partitions.map(({ partition, offset }) => [partition, offset]).sort(),
        ends.map(({ partition, high }) => [partition, high === "0" ? "-1" : high]).sort(),
        `${group}'s committed offsets`,
      );

      const theirGroup = `${other(tenant)}.eos-${RUN}`;
      const refused = await rdkafka(USERS[tenant], {
        action: "exactly_once",
        input,
        output,
        group: `${tenant}.eos-again-${RUN}`,
        offsets_group: theirGroup,
        transactional_id: `${tenant}.eos-tx-${RUN}`,
      });
      assert.equal(
        refused.result,
        "GROUP_AUTHORIZATION_FAILED",
        `${tenant} commits for ${theirGroup}: ${JSON.stringify(refused)}`,
      );
      assert.equal(
        refused.aborted,
        true,
        `${tenant}'s refused transaction is aborted: ${JSON.stringify(refused)}`,
      );

      // Only the committed copies are visible; the aborted transaction's are not.
      const read = await rdkafka(USERS[tenant], {
        action: "consume",
        topic: output,
        group: `${tenant}.eos-check-${RUN}`,
        count: 1_000,
        seconds: 30,
        idle: 3,
        isolation: "read_committed",
      });
      assert.deepEqual(
        [...read.seen!].sort(),
        copied.read!.map((value) => `copy-${value}`).sort(),
        `${output}: ${JSON.stringify(read)}`,
      );
    }),
  );
});

test("librdkafka with the consumer rebalance protocol (KIP-848) consumes its own topic with its group, and is refused the other's group and topic", {
  timeout: 300_000,
}, async () => {
  await Promise.all(
    TENANTS.map(async (tenant) => {
      const topic = topicOf(tenant, "plain");
      const marker = `${tenant}-kip848-${RUN}`;
      const produced = await rdkafka(USERS[tenant], { action: "produce", topic, values: [marker] });
      assert.deepEqual(produced.reports, [`OK:${marker}`], JSON.stringify(produced));
      const own = await rdkafka(USERS[tenant], {
        action: "consume",
        topic,
        group: `${tenant}.kip848-${RUN}`,
        protocol: "consumer",
        count: 1_000,
        seconds: 30,
        idle: 2,
      });
      assert.ok(own.seen!.includes(marker), `${tenant} KIP-848 on its own topic: ${JSON.stringify(own)}`);
      assert.deepEqual(own.commit, ["OK"], `${tenant} KIP-848 commit: ${JSON.stringify(own)}`);
      assert.deepEqual(own.poll_errors, [], `${tenant} KIP-848 on its own topic: ${JSON.stringify(own)}`);

      const theirGroup = `${other(tenant)}.kip848-${RUN}`;
      const joining = await rdkafka(USERS[tenant], {
        action: "consume",
        topic,
        group: theirGroup,
        protocol: "consumer",
        seconds: 30,
        until_error: "GROUP_AUTHORIZATION_FAILED",
      });
      assert.deepEqual(joining.seen, [], `${tenant} KIP-848 in ${theirGroup}: ${JSON.stringify(joining)}`);
      assert.ok(
        joining.poll_errors!.includes("GROUP_AUTHORIZATION_FAILED"),
        `${tenant} KIP-848 in ${theirGroup}: ${JSON.stringify(joining)}`,
      );

      const theirs = topicOf(other(tenant), "plain");
      const snooping = await rdkafka(USERS[tenant], {
        action: "consume",
        topic: theirs,
        group: `${tenant}.kip848-snoop-${RUN}`,
        protocol: "consumer",
        seconds: 30,
        until_error: "TOPIC_AUTHORIZATION_FAILED",
      });
      assert.deepEqual(snooping.seen, [], `${tenant} KIP-848 on ${theirs}: ${JSON.stringify(snooping)}`);
      assert.ok(
        snooping.poll_errors!.includes("TOPIC_AUTHORIZATION_FAILED"),
        `${tenant} KIP-848 on ${theirs}: ${JSON.stringify(snooping)}`,
      );
    }),
  );
});

test("a KIP-848 regex subscription matching both tenants' topics assigns a tenant only its own (librdkafka and the heartbeat itself)", {
  timeout: 300_000,
}, async () => {
  const regex = `^(acme|globex)\\.orders-${RUN}$`;
  const markers: Record<Tenant, string> = { acme: `acme-regex-${RUN}`, globex: `globex-regex-${RUN}` };
  for (const tenant of TENANTS) {
    const produced = await rdkafka(USERS[tenant], {
      action: "produce",
      topic: topicOf(tenant, "plain"),
      values: [markers[tenant]],
    });
    assert.deepEqual(produced.reports, [`OK:${markers[tenant]}`], JSON.stringify(produced));
  }
  const answer = await rdkafka(USERS.acme, {
    action: "consume",
    topic: regex,
    group: `acme.regex-${RUN}`,
    protocol: "consumer",
    count: 1_000,
    seconds: 30,
    idle: 4,
  });
  assert.ok(answer.seen!.includes(markers.acme), JSON.stringify(answer));
  assert.equal(answer.seen!.includes(markers.globex), false, JSON.stringify(answer));
  assert.deepEqual(answer.poll_errors, [], JSON.stringify(answer));

  // What the group coordinator assigns, as the member's heartbeats receive it.
  const platform = await SaslTlsClient.connect(proxy.bootstrap, ca, "platform", USERS.platform.password);
  const acme = await SaslTlsClient.connect(proxy.bootstrap, ca, "acme", USERS.acme.password);
  try {
    const described = await platform.request(ApiKey.Metadata, 12, {
      topics: TENANTS.map((tenant) => ({ topicId: ZERO_UUID, name: topicOf(tenant, "plain") })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const nameOf = new Map<string, string>(
      described.topics.map((topic: { topicId: string; name: string }) => [topic.topicId, topic.name]),
    );
    assert.equal(nameOf.size, 2, JSON.stringify(described.topics));
    const group = `acme.regex-raw-${RUN}`;
    const memberId = "acme-raw-member-0000000001";
    let memberEpoch = 0;
    const assigned = await waitFor(
      "an assignment holding acme's topic",
      async () => {
        const response = await acme.request(ApiKey.ConsumerGroupHeartbeat, 1, {
          groupId: group,
          memberId,
          memberEpoch,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
          subscribedTopicNames: memberEpoch === 0 ? [] : null,
          subscribedTopicRegex: memberEpoch === 0 ? regex : null,
          serverAssignor: null,
          topicPartitions: memberEpoch === 0 ? [] : null,
        });
        assert.equal(response.errorCode, ErrorCode.NONE, JSON.stringify(response));
        memberEpoch = response.memberEpoch;
        const topics: string[] = (response.assignment?.topicPartitions ?? []).map(
          (topic: { topicId: string }) => nameOf.get(topic.topicId) ?? `unknown id ${topic.topicId}`,
        );
        return topics.includes(topicOf("acme", "plain")) ? topics : undefined;
      },
      30_000,
    );
    assert.deepEqual(assigned, [topicOf("acme", "plain")], "the topics assigned to acme's member");
    await acme.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      groupId: group,
      memberId,
      memberEpoch: -1,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      subscribedTopicNames: null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: null,
    });
  } finally {
    platform.close();
    acme.close();
  }
});

interface LogLine {
  msg?: string;
  time?: number;
  principal?: string | null;
  api?: string;
  denied?: { operation: string; resource: string; names: string[] }[];
  unloggedRefusals?: number;
}

function refusalLines(): LogLine[] {
  const out: LogLine[] = [];
  for (const text of proxy.logs().split("\n")) {
    if (!text.startsWith("{")) continue;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      continue;
    }
    if (line.msg?.startsWith("authorization refused")) out.push(line);
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Metadata v12 request naming one topic, not creating it. */
const metadataOf = (topic: string) => ({
  topics: [{ topicId: ZERO_UUID, name: topic }],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

test("refusals are logged naming the principal and what it was refused, at most 10 lines per 10 s", {
  timeout: 120_000,
}, async () => {
  const lines = refusalLines();
  assert.ok(lines.length > 0, "the refusals of the tests before are logged");
  // Every refusal line names a tenant (the super user is never refused) and the other tenant's names only.
  for (const line of lines) {
    assert.ok(line.principal === "acme" || line.principal === "globex", JSON.stringify(line));
    const prefix = `${other(line.principal as Tenant)}.`;
    for (const denial of line.denied ?? []) {
      for (const name of denial.names) assert.ok(name.startsWith(prefix), JSON.stringify(line));
    }
  }

  // A new window of the rate limit: nothing was refused for longer than a window.
  await sleep(10_500);
  const acme = await SaslTlsClient.connect(proxy.bootstrap, ca, "acme", USERS.acme.password);
  const globex = await SaslTlsClient.connect(proxy.bootstrap, ca, "globex", USERS.globex.password);
  try {
    const seen = refusalLines().length;
    const theirTopic = topicOf("globex", "plain");
    const answer = await acme.request(ApiKey.Metadata, 12, metadataOf(theirTopic));
    assert.deepEqual(
      answer.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode]),
      [[theirTopic, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    );
    const theirGroup = `acme.rdkafka-plain-${RUN}`;
    const coordinator = await globex.request(ApiKey.FindCoordinator, 4, {
      key: "",
      keyType: 0,
      coordinatorKeys: [theirGroup],
    });
    assert.deepEqual(
      coordinator.coordinators.map((c: { key: string; errorCode: number }) => [c.key, c.errorCode]),
      [[theirGroup, ErrorCode.GROUP_AUTHORIZATION_FAILED]],
    );
    const fresh = await waitFor(
      "the two refusals logged",
      async () => (refusalLines().length >= seen + 2 ? refusalLines().slice(seen) : undefined),
      10_000,
    );
    assert.deepEqual(
      fresh.map((line) => ({ principal: line.principal, api: line.api, denied: line.denied })),
      [
        {
          principal: "acme",
          api: "Metadata",
          denied: [{ operation: "describe", resource: "topic", names: [theirTopic] }],
        },
        {
          principal: "globex",
          api: "FindCoordinator",
          denied: [{ operation: "describe", resource: "group", names: [theirGroup] }],
        },
      ],
    );
    assert.match(fresh[0]!.msg!, /principal "acme"/);
    assert.match(fresh[1]!.msg!, /principal "globex"/);

    // 20 more refusals in the same window: 8 more lines (10 in all), the other 12 only counted.
    for (let i = 0; i < 20; i++) {
      const refused = await acme.request(ApiKey.Metadata, 12, metadataOf(theirTopic));
      assert.equal(refused.topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    }
    await sleep(500);
    assert.equal(refusalLines().length - seen, 10, "lines written in one window");
    // The next window's first line counts the refusals left out.
    await sleep(10_500);
    await globex.request(ApiKey.Metadata, 12, metadataOf(topicOf("acme", "virtualized")));
    const next = await waitFor("the next window's line", async () => refusalLines()[seen + 10], 10_000);
    assert.equal(next.principal, "globex");
    assert.deepEqual(next.denied, [
      { operation: "describe", resource: "topic", names: [topicOf("acme", "virtualized")] },
    ]);
    assert.equal(next.unloggedRefusals, 12);
  } finally {
    acme.close();
    globex.close();
  }
});
