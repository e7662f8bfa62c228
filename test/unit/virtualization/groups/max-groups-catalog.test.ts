import assert from "node:assert/strict";
import { test } from "node:test";
import { MaxGroupsCatalog } from "../../../../src/features/virtualization/groups/max-groups-catalog.ts";
import { VirtualizationRules } from "../../../../src/features/virtualization/mapping/rules.ts";
import { silentLogger } from "../../../../src/log/logger.ts";
import { ErrorCode } from "../../../../src/protocol/api.ts";
import type { AdminClient } from "../../../../src/topology/admin-client.ts";
import { TopicDirectory, type TopicEntry } from "../../../../src/topology/topics.ts";

const rules = new VirtualizationRules(
  [
    { pattern: /^orders/, source: "orders*", virtualPartitions: 32, physicalPartitions: 4 },
    { pattern: /^wide/, source: "wide*", virtualPartitions: 12, physicalPartitions: 1 },
  ],
  [],
);

function topic(name: string, partitions: number): TopicEntry {
  return {
    errorCode: ErrorCode.NONE,
    name,
    topicId: "0c".repeat(16),
    partitions: Array(partitions).fill({}),
  };
}

function catalogOver(listings: TopicEntry[][]) {
  let lookups = 0;
  const admin = {
    request: async () => {
      const listing = listings[Math.min(lookups, listings.length - 1)]!;
      lookups++;
      return { topics: listing };
    },
  } as unknown as AdminClient;
  return {
    catalog: new MaxGroupsCatalog(rules, new TopicDirectory(admin, silentLogger)),
    lookups: () => lookups,
  };
}

test("the largest V / P among virtualized topics that exist, kept while the listing is fresh", async () => {
  const { catalog, lookups } = catalogOver([
    [topic("orders-eu", 4), topic("plain", 3)],
    [topic("orders-eu", 4), topic("wide-1", 1)],
  ]);
  assert.equal(await catalog.maxGroups(), 8);
  assert.equal(await catalog.maxGroups(), 8);
  assert.equal(lookups(), 1, "a fresh listing is not asked for again");
  assert.equal(await catalog.maxGroups(0), 12, "max age 0 lists the topics again");
  assert.equal(lookups(), 2);
});

test("without virtualized topics a group has no companion groups", async () => {
  const { catalog } = catalogOver([[topic("plain", 3)]]);
  assert.equal(await catalog.maxGroups(), 1);
});
