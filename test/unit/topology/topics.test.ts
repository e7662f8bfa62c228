import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLogger } from "../../../src/log/logger.ts";
import { ErrorCode } from "../../../src/protocol/api.ts";
import type { AdminClient } from "../../../src/topology/admin-client.ts";
import { TopicDirectory, type TopicEntry } from "../../../src/topology/topics.ts";

/** An admin client whose Metadata answers are released one at a time by the test. */
function scriptedAdmin() {
  const pending: { resolve(topics: TopicEntry[]): void; reject(error: Error): void }[] = [];
  const admin = {
    request: () =>
      new Promise<{ topics: TopicEntry[] }>((resolve, reject) => {
        pending.push({ resolve: (topics) => resolve({ topics }), reject });
      }),
  } as unknown as AdminClient;
  return { admin, pending };
}

function topic(name: string, id: string): TopicEntry {
  return { errorCode: ErrorCode.NONE, name, topicId: id, partitions: [{}] };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("TopicDirectory.resolveIds", () => {
  test("a caller that asks while a lookup runs waits for the next lookup, which starts once", async () => {
    const { admin, pending } = scriptedAdmin();
    const directory = new TopicDirectory(admin, silentLogger);
    const early = directory.resolveIds(["a".repeat(32)]);
    await tick();
    assert.equal(pending.length, 1);
    const late1 = directory.resolveIds(["b".repeat(32)]);
    const late2 = directory.resolveIds(["b".repeat(32)]);
    await tick();
    assert.equal(pending.length, 1, "no second lookup while one runs");
    pending[0]!.resolve([topic("first", "a".repeat(32))]);
    await early;
    await tick();
    assert.equal(pending.length, 2, "one follow-up lookup for both late callers");
    assert.equal(directory.nameOf("b".repeat(32)), undefined);
    pending[1]!.resolve([topic("first", "a".repeat(32)), topic("second", "b".repeat(32))]);
    await Promise.all([late1, late2]);
    assert.equal(directory.nameOf("b".repeat(32)), "second");
  });

  test("a failed lookup rejects its callers and does not block the next one", async () => {
    const { admin, pending } = scriptedAdmin();
    const directory = new TopicDirectory(admin, silentLogger);
    const failing = directory.resolveIds(["c".repeat(32)]);
    await tick();
    pending[0]!.reject(new Error("broker stalled"));
    await assert.rejects(failing, /broker stalled/);
    const next = directory.resolveIds(["c".repeat(32)]);
    await tick();
    assert.equal(pending.length, 2);
    pending[1]!.resolve([topic("third", "c".repeat(32))]);
    await next;
    assert.equal(directory.nameOf("c".repeat(32)), "third");
  });

  test("ids already known and the zero id need no lookup", async () => {
    const { admin, pending } = scriptedAdmin();
    const directory = new TopicDirectory(admin, silentLogger);
    directory.learn([topic("known", "d".repeat(32))]);
    await directory.resolveIds(["d".repeat(32), "0".repeat(32)]);
    assert.equal(pending.length, 0);
  });
});

describe("TopicDirectory.learn", () => {
  test("a partial partition list (a DescribeTopicPartitions page) teaches ids, never a partition count", () => {
    const { admin } = scriptedAdmin();
    const directory = new TopicDirectory(admin, silentLogger);
    directory.learn([
      { errorCode: ErrorCode.NONE, name: "orders", topicId: "e".repeat(32), partitions: [{}, {}, {}, {}] },
    ]);
    directory.learn(
      [{ errorCode: ErrorCode.NONE, name: "orders", topicId: "e".repeat(32), partitions: [{}] }],
      false,
    );
    assert.equal(directory.get("orders")?.partitions, 4);
    directory.learn(
      [{ errorCode: ErrorCode.NONE, name: "fresh", topicId: "f".repeat(32), partitions: [{}] }],
      false,
    );
    assert.equal(directory.nameOf("f".repeat(32)), "fresh");
    assert.equal(directory.get("fresh"), undefined, "its count is looked up when needed");
  });
});
