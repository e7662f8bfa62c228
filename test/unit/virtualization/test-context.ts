import type { Feature } from "../../../src/feature-api/feature.ts";
import { adminHandlers } from "../../../src/features/virtualization/admin/index.ts";
import type { VirtualizationContext } from "../../../src/features/virtualization/context.ts";
import { dataHandlers } from "../../../src/features/virtualization/data/index.ts";
import { VirtualizationRules } from "../../../src/features/virtualization/mapping/rules.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { ErrorCode } from "../../../src/protocol/api.ts";
import type { AdminClient } from "../../../src/topology/admin-client.ts";
import type { GroupCoordinators } from "../../../src/topology/group-coordinators.ts";
import { TopicDirectory } from "../../../src/topology/topics.ts";

export const MARKER = "__kpp_vp";
/** Virtualized: 8 virtual partitions on 4 physical ones. */
export const TOPIC = "orders";
export const TOPIC_ID = "a".repeat(32);
/** Not virtualized, one partition. */
export const PLAIN = "plain";
export const PLAIN_ID = "b".repeat(32);

/** Virtualizes `orders` on `physicalPartitions` partitions as `virtualPartitions`. */
export function ordersRule(virtualPartitions: number, physicalPartitions: number): VirtualizationRules {
  return new VirtualizationRules(
    [{ pattern: /^orders$/, source: "orders", virtualPartitions, physicalPartitions }],
    [],
  );
}

/**
 * A virtualization context for unit tests: `orders` (V = 8 on P = 4) and `plain` are known to the topic
 * directory, whose own lookups find nothing.
 */
export function testContext(overrides: Partial<VirtualizationContext> = {}): VirtualizationContext {
  const admin = { request: async () => ({ topics: [] }) } as unknown as AdminClient;
  const topics = new TopicDirectory(admin, silentLogger);
  topics.learn([
    { errorCode: ErrorCode.NONE, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}, {}, {}] },
    { errorCode: ErrorCode.NONE, name: PLAIN, topicId: PLAIN_ID, partitions: [{}] },
  ]);
  return {
    rules: ordersRule(8, 4),
    topics,
    coordinators: {} as GroupCoordinators,
    admin,
    markerHeader: MARKER,
    keepMarker: false,
    readAheadBytes: 0,
    maxDecompressedBatchBytes: 16 * 1024 * 1024,
    log: silentLogger,
    ...overrides,
  };
}

/** The data handlers (Produce, Fetch, ListOffsets, OffsetForLeaderEpoch) as the chain's one feature. */
export function dataFeature(context: VirtualizationContext): Feature[] {
  return [{ name: "virtualization", handlers: dataHandlers(context) }];
}

/** The admin handlers (Metadata, DescribeTopicPartitions, CreateTopics, ...) as the chain's one feature. */
export function adminFeature(context: VirtualizationContext): Feature[] {
  return [{ name: "virtualization", handlers: adminHandlers(context) }];
}

/** `value` without its properties that are undefined (decoded messages carry `unknownTaggedFields: undefined`). */
export function defined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(defined) as T;
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = defined(field);
  return out as T;
}
