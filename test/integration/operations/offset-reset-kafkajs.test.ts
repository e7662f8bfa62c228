import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startProxy } from "../../helpers/proxy.ts";
import {
  committedOnKafka,
  postReset,
  produce,
  type ResetEnvironment,
  resetScenarios,
  startKafkaJsMember,
  TOKEN,
  useResetEnvironment,
  VIRTUALIZATION,
} from "./offset-reset-support.ts";

const CLI = fileURLToPath(new URL("../../../src/cli.ts", import.meta.url));

let env: ResetEnvironment;

describe("online offset reset with KafkaJS consumers that keep running", { timeout: 300_000 }, () => {
  useResetEnvironment((ready) => {
    env = ready;
  });

  describe("requests", () => {
    let topic: string;
    const group = `reset-requests-${process.pid}`;
    let member: Awaited<ReturnType<typeof startKafkaJsMember>>;

    before(async () => {
      topic = env.cluster.uniqueTopic("reset-requests");
      await env.cluster.createTopic(topic, { partitions: 3 });
      await produce(env.proxy, topic, 20, "a");
      member = await startKafkaJsMember(env.proxy.bootstrap, topic, group, "reset-requests");
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 60_000;
        const check = async () => {
          const committed = await committedOnKafka(env.cluster, topic, group);
          if ([...committed.values()].filter((o) => o === 20n).length === 3) return resolve();
          if (Date.now() > deadline)
            return reject(new Error(`the group did not commit 20: ${[...committed]}`));
          setTimeout(check, 300);
        };
        void check();
      });
      member.forgetStart();
    });

    after(async () => {
      await member?.stop();
    });

    test("bad requests are refused with their reason", async () => {
      assert.equal((await postReset(env.proxy, group, { topic, to: "earliest" }, null)).status, 401);
      const badTo = await postReset(env.proxy, group, { topic, to: "yesterday" });
      assert.equal(badTo.status, 400);
      assert.match(String(badTo.body.error), /to: expected/);
      const badPartition = await postReset(env.proxy, group, { topic, partitions: [7], to: "earliest" });
      assert.equal(badPartition.status, 400);
      assert.match(String(badPartition.body.error), /partitions/);
      assert.equal(
        (await postReset(env.proxy, group, { topic: `${topic}-missing`, to: "earliest" })).status,
        404,
      );
      assert.equal((await postReset(env.proxy, `${group}-missing`, { topic, to: "earliest" })).status, 404);
    });

    test("a dry run answers the offsets and moves nothing; the CLI prints them", async () => {
      const answer = await postReset(env.proxy, group, { topic, to: { offset: 5 }, dry_run: true });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(
        answer.body.partitions,
        [0, 1, 2].map((partition) => ({ partition, old: "20", new: "5" })),
      );
      assert.deepEqual([...(await committedOnKafka(env.cluster, topic, group)).values()], [20n, 20n, 20n]);

      const cli = await promisify(execFile)(process.execPath, [
        CLI,
        "reset-offsets",
        "--admin",
        `http://127.0.0.1:${env.proxy.adminPort}`,
        "--token",
        TOKEN,
        "--group",
        group,
        "--topic",
        topic,
        "--partitions",
        "0,2",
        "--shift-by=-3",
        "--dry-run",
      ]);
      assert.match(cli.stdout, /dry run, nothing applied/);
      assert.match(cli.stdout, /^0 +20 +17$/m);
      assert.match(cli.stdout, /^2 +20 +17$/m);
      assert.doesNotMatch(cli.stdout, /^1 /m);
    });

    test("a member connected to Kafka directly cannot be steered: refused, naming it", async () => {
      const direct = await startKafkaJsMember(env.cluster.bootstrap, topic, group, "direct-member");
      try {
        let answer: Awaited<ReturnType<typeof postReset>> | undefined;
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          answer = await postReset(env.proxy, group, { topic, to: "earliest" });
          if (answer.status === 409 && /direct-member/.test(String(answer.body.error))) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        assert.equal(answer?.status, 409, JSON.stringify(answer?.body));
        assert.match(String(answer!.body.error), /not connected through this proxy instance/);
        assert.match(String(answer!.body.error), /client id direct-member, host \/127\.0\.0\.1/);
      } finally {
        await direct.stop();
      }
      assert.deepEqual(
        member.problems().filter((line) => !/rebalanc/i.test(line)),
        [],
      );
    });
  });

  describe("two proxy instances in front of one group", () => {
    let topic: string;
    const group = `reset-two-instances-${process.pid}`;
    let other: Awaited<ReturnType<typeof startProxy>> | undefined;
    let member: Awaited<ReturnType<typeof startKafkaJsMember>> | undefined;

    before(async () => {
      topic = env.cluster.uniqueTopic("reset-two");
      await env.cluster.createTopic(topic, { partitions: 3 });
      await produce(env.proxy, topic, 20, "a");
      other = await startProxy({
        upstream: env.cluster.bootstrap,
        extra: { admin: { token: TOKEN }, ...VIRTUALIZATION },
      });
      member = await startKafkaJsMember(env.proxy.bootstrap, topic, group, "two-instances-a");
      await committedEverywhere(topic, group, 20n);
    });

    after(async () => {
      await member?.stop();
      await other?.stop();
    });

    test("a reset applied through one instance is answered as already applied by the other", async () => {
      const id = `${group}-once`;
      const first = await postReset(env.proxy, group, { topic, to: { offset: 10 }, id });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.repeated, false);
      await committedEverywhere(topic, group, 20n);
      const retried = await postReset(other!, group, { topic, to: { offset: 10 }, id });
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      assert.equal(retried.body.repeated, true, "the other instance reads the record from Kafka");
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(
        [...(await committedOnKafka(env.cluster, topic, group)).values()],
        [20n, 20n, 20n],
        "applied once: the member's later commits stand",
      );
    });

    test("a member connected through the other instance cannot be steered: refused, naming it", async () => {
      const elsewhere = await startKafkaJsMember(other!.bootstrap, topic, group, "two-instances-b");
      try {
        let answer: Awaited<ReturnType<typeof postReset>> | undefined;
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          answer = await postReset(env.proxy, group, { topic, to: "earliest" });
          if (answer.status === 409) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        assert.equal(answer?.status, 409, JSON.stringify(answer?.body));
        assert.match(String(answer!.body.error), /client id two-instances-b/);
      } finally {
        await elsewhere.stop();
      }
    });
  });

  describe("a plain topic", () => {
    resetScenarios(
      () => env,
      "kafkajs",
      async (topic, group) =>
        Promise.all([0, 1].map((m) => startKafkaJsMember(env.proxy.bootstrap, topic, group, `kafkajs-${m}`))),
    );
  });

  describe("a virtualized topic", () => {
    resetScenarios(
      () => env,
      "kafkajs",
      async (topic, group) =>
        Promise.all([0, 1].map((m) => startKafkaJsMember(env.proxy.bootstrap, topic, group, `kafkajs-${m}`))),
      { virtualized: true },
    );
  });
});

/** Waits until `group` has committed `offset` on every partition of `topic` (on Kafka itself). */
async function committedEverywhere(topic: string, group: string, offset: bigint): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const committed = [...(await committedOnKafka(env.cluster, topic, group)).values()];
    if (committed.length === 3 && committed.every((o) => o === offset)) return;
    if (Date.now() > deadline) throw new Error(`the group did not commit ${offset}: ${committed}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
