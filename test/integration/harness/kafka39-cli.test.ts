import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ClusterInfo, stop } from "../../../scripts/kafka/cluster.ts";
import { isAliveWith } from "../../../scripts/kafka/processes.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const dir = join(mkdtempSync(join(process.env.KPP_TEST_TMP ?? tmpdir(), "cli-")), "cluster");
let info: ClusterInfo;

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [join(ROOT, "scripts/kafka/main.ts"), ...args], {
    encoding: "utf8",
    timeout: 180_000,
    ...(input === undefined ? {} : { input }),
  });
}

function cliOk(args: string[], input?: string): string {
  const result = cli(args, input);
  assert.equal(result.status, 0, `kafka ${args.join(" ")} failed:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

before(() => {
  const stdout = cliOk(["start", "--brokers", "3", "--version", "3.9", "--dir", dir]);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, `start must print exactly one line of JSON, got:\n${stdout}`);
  info = JSON.parse(lines[0]!) as ClusterInfo;
});

after(() => stop(dir));

test("start prints the cluster as one line of JSON and leaves the JVMs running detached", () => {
  assert.equal(info.dir, dir);
  assert.equal(info.brokerVersion, "3.9.2");
  assert.deepEqual(
    info.brokers.map((b) => b.id),
    [1, 2, 3],
  );
  assert.equal(info.bootstrap, info.brokers.map((b) => `127.0.0.1:${b.port}`).join(","));
  for (const broker of info.brokers) assert.ok(isAliveWith(broker.pid, `-Dkpp.cluster=${dir}`));
  const status = JSON.parse(cliOk(["status", "--dir", dir])) as {
    running: boolean;
    brokers: { alive: boolean }[];
  };
  assert.equal(status.running, true);
  assert.deepEqual(
    status.brokers.map((b) => b.alive),
    [true, true, true],
  );
});

test("3.9.2 takes acks=all writes on a replication-factor-3 topic through the CLI tools", () => {
  const topic = `rf3-${process.pid}-${Date.now().toString(36)}`;
  cliOk([
    "tool",
    "kafka-topics",
    "--dir",
    dir,
    "--",
    "--create",
    "--topic",
    topic,
    "--replication-factor",
    "3",
  ]);
  assert.match(
    cliOk(["tool", "kafka-topics", "--dir", dir, "--", "--describe", "--topic", topic]),
    /ReplicationFactor: 3/,
  );
  const lines = ["one", "two", "three"];
  cliOk(
    [
      "tool",
      "kafka-console-producer",
      "--dir",
      dir,
      "--",
      "--topic",
      topic,
      "--producer-property",
      "acks=all",
    ],
    `${lines.join("\n")}\n`,
  );
  const consumed = cliOk([
    "tool",
    "kafka-console-consumer",
    "--dir",
    dir,
    "--",
    "--topic",
    topic,
    "--from-beginning",
    "--max-messages",
    "3",
    "--timeout-ms",
    "30000",
  ]);
  assert.deepEqual(consumed.trim().split("\n").sort(), [...lines].sort());
  const entity = ["--entity-type", "topics", "--entity-name", topic];
  cliOk([
    "tool",
    "kafka-configs",
    "--dir",
    dir,
    "--",
    ...entity,
    "--alter",
    "--add-config",
    "retention.ms=3600000",
  ]);
  assert.match(
    cliOk(["tool", "kafka-configs", "--dir", dir, "--", ...entity, "--describe"]),
    /retention\.ms=3600000/,
  );
});

test("stop kills the cluster's JVMs and removes its directory", () => {
  cliOk(["stop", "--dir", dir]);
  for (const broker of info.brokers) assert.equal(isAliveWith(broker.pid, `-Dkpp.cluster=${dir}`), false);
  assert.equal(existsSync(dir), false);
  assert.notEqual(cli(["status", "--dir", dir]).status, 0);
});
