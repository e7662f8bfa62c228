import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildConfig } from "../../../src/config/load.ts";
import {
  changedPaths,
  type ExistingTopic,
  formatConfigPath,
  type LayoutCounts,
  layoutChanges,
  layoutRefusal,
  overlay,
  planReload,
  reloadKindOf,
  routingRefusals,
} from "../../../src/config/reload.ts";

const BASE = {
  kafka: { bootstrap_servers: "127.0.0.1:9092" },
  mapping: { topics: { "orders-.*": { virtual_partitions: 12, physical_partitions: 3 } } },
  logging: { level: "info" },
};

function config(extra: Record<string, unknown> = {}) {
  return buildConfig({ ...BASE, ...extra }, "test");
}

function paths(list: readonly (readonly string[])[]): string[] {
  return list.map(formatConfigPath).sort();
}

describe("changedPaths", () => {
  test("names each changed leaf, keys holding dots kept whole", () => {
    const before = { a: { b: 1, "x.*": { v: 2 } }, list: [1, 2] };
    const after = { a: { b: 1, "x.*": { v: 3 }, c: true }, list: [1, 2, 3] };
    assert.deepEqual(changedPaths(before, after), [["a", "x.*", "v"], ["a", "c"], ["list"]]);
  });

  test("nothing when equal", () => {
    assert.deepEqual(changedPaths(config().raw, config().raw), []);
  });
});

describe("what a reload takes", () => {
  test("apply, check or restart by path", () => {
    assert.equal(reloadKindOf(["logging", "level"]), "apply");
    assert.equal(reloadKindOf(["logging", "format"]), "restart");
    assert.equal(reloadKindOf(["authorization", "rules"]), "apply");
    assert.equal(reloadKindOf(["quotas", "topics", "t.*"]), "apply");
    assert.equal(reloadKindOf(["admin", "token"]), "apply");
    assert.equal(reloadKindOf(["listen", "security", "sasl", "credentials", "users", "alice"]), "apply");
    assert.equal(reloadKindOf(["listen", "security", "sasl", "enabled_mechanisms"]), "restart");
    assert.equal(reloadKindOf(["metrics", "address"]), "restart");
    assert.equal(reloadKindOf(["metrics", "enabled"]), "restart");
    assert.equal(reloadKindOf(["metrics", "max_topics"]), "apply");
    assert.equal(reloadKindOf(["mapping", "topics", "new-.*", "virtual_partitions"]), "check");
    assert.equal(reloadKindOf(["mapping", "never_virtualize"]), "check");
    assert.equal(reloadKindOf(["mapping", "marker_header"]), "restart");
    assert.equal(reloadKindOf(["routing", "topics", "t.*"]), "check");
    assert.equal(reloadKindOf(["routing", "default_cluster"]), "restart");
    assert.equal(reloadKindOf(["routing", "groups", "g"]), "restart");
    assert.equal(reloadKindOf(["listen", "address"]), "restart");
    assert.equal(reloadKindOf(["kafka", "bootstrap_servers"]), "restart");
    assert.equal(reloadKindOf(["clusters", "b", "bootstrap_servers"]), "restart");
  });

  test("a file sorted into applied, checked and restart-only changes", () => {
    const before = config();
    const after = config({
      logging: { level: "debug" },
      listen: { address: "127.0.0.1:19092" },
      mapping: {
        topics: {
          "orders-.*": { virtual_partitions: 12, physical_partitions: 3 },
          "new-.*": { virtual_partitions: 8, physical_partitions: 2 },
        },
      },
    });
    const plan = planReload(before.raw, after.raw, true);
    assert.deepEqual(paths(plan.apply), ["logging.level"]);
    assert.deepEqual(paths(plan.virtualization), ["mapping.topics.new-.*"]);
    assert.deepEqual(paths(plan.routing), []);
    assert.deepEqual(paths(plan.restart.map((r) => r.path)), ["listen.address"]);
  });

  test("the first rules need a restart when the chain runs without virtualization", () => {
    const before = buildConfig({ kafka: { bootstrap_servers: "127.0.0.1:9092" } });
    const after = config();
    const plan = planReload(before.raw, after.raw, false);
    assert.deepEqual(paths(plan.virtualization), []);
    assert.deepEqual(paths(plan.restart.map((r) => r.path)), ["mapping"]);
    assert.match(plan.restart[0]!.reason, /restart/);
  });

  test("overlay takes only the applied paths, and removes what the file removed", () => {
    const before = config({ logging: { level: "info" }, admin: { token: "a-token-of-16-chars" } });
    const after = config({ logging: { level: "warn" }, listen: { address: "127.0.0.1:19092" } });
    const plan = planReload(before.raw, after.raw, true);
    const merged = buildConfig(overlay(before.raw, after.raw, plan.apply));
    assert.equal(merged.logging.level, "warn");
    assert.equal(merged.adminToken, undefined);
    assert.equal(merged.listen.port, 9092, "a restart-only change stays as it runs");
    assert.equal(before.raw.logging.level, "info", "the running config is not touched");
  });
});

describe("data moves", () => {
  const topic = (name: string, partitions = 3): ExistingTopic => ({ name, cluster: "default", partitions });
  const layouts =
    (table: Record<string, LayoutCounts>) =>
    (name: string): LayoutCounts | undefined =>
      table[name];
  const v12 = { virtualPartitions: 12, physicalPartitions: 3 };
  const v24 = { virtualPartitions: 24, physicalPartitions: 3 };

  test("only topics whose layout differs are changes", () => {
    const changes = layoutChanges(
      [topic("same"), topic("grown"), topic("plain"), topic("newly")],
      layouts({ same: v12, grown: v12 }),
      layouts({ same: v12, grown: v24, newly: v12 }),
    );
    assert.deepEqual(
      changes.map((c) => c.topic.name),
      ["grown", "newly"],
    );
  });

  test("a topic holding records refuses any layout change, saying why", () => {
    const grown = { topic: topic("orders-1"), before: v12, after: v24 };
    assert.match(layoutRefusal(grown, true)!, /orders-1 holds records.*12 virtual partitions over 3 to 24/);
    assert.match(
      layoutRefusal({ topic: topic("t"), before: undefined, after: v12 }, true)!,
      /holds records and would become virtualized/,
    );
    assert.match(
      layoutRefusal({ topic: topic("t"), before: v12, after: undefined }, true)!,
      /would no longer be virtualized/,
    );
  });

  test("a topic without records takes the new layout when its partition count fits", () => {
    assert.equal(layoutRefusal({ topic: topic("t", 3), before: v12, after: v24 }, false), undefined);
    assert.equal(layoutRefusal({ topic: topic("t", 3), before: undefined, after: v12 }, false), undefined);
    assert.equal(layoutRefusal({ topic: topic("t", 3), before: v12, after: undefined }, false), undefined);
    assert.match(
      layoutRefusal({ topic: topic("t", 5), before: undefined, after: v12 }, false)!,
      /has 5 partitions; the new rule needs 3/,
    );
  });

  test("routing refuses to move an existing topic, and lets new names go anywhere", () => {
    const before = (name: string) => (name.startsWith("b-") ? "b" : "a");
    const after = (name: string) => (name.startsWith("b-") || name.startsWith("x-") ? "b" : "a");
    assert.deepEqual(routingRefusals([topic("a-1"), topic("b-1")], before, after), []);
    assert.deepEqual(routingRefusals([topic("x-1"), topic("x-1")], before, after), [
      "topic x-1 exists and lives on cluster a; the new routing would send it to b",
    ]);
  });
});
