/**
 * How a classic group's member is made to fetch its committed offsets again without an error in its log.
 *
 * A heartbeat answered REBALANCE_IN_PROGRESS makes a member rejoin with its generation intact, so the commit it
 * makes before rejoining is sent (and held back by the fence) instead of failing in the client. An eager member
 * gives all its partitions up when it rejoins and fetches their offsets when they are assigned again. A
 * cooperative member keeps them, so its next assignment is answered without the reset partitions: it revokes
 * them and rejoins, and gets them back as new partitions, whose offsets it fetches.
 *
 * For an assignor not known to be either, ILLEGAL_GENERATION: every client gives its partitions up as lost
 * and rejoins with its member id, though the Java consumer then logs its failed auto-commit at error level.
 */
import { ErrorCode } from "../../protocol/api.ts";
import {
  type ConsumerProtocolAssignment,
  decodeConsumerProtocolAssignment,
  encodeConsumerProtocolAssignment,
} from "../../protocol/generated/index.ts";
import { Reader } from "../../protocol/primitives/reader.ts";
import { Writer } from "../../protocol/primitives/writer.ts";
import type { FencedPartitions } from "./hosted-members.ts";

/** Assignors whose members give every partition up when they rejoin (Java, librdkafka, KafkaJS names). */
const EAGER_ASSIGNORS = new Set(["range", "roundrobin", "sticky", "RoundRobinAssigner"]);
/** Assignors whose members keep their partitions through a rebalance. */
const COOPERATIVE_ASSIGNORS = new Set(["cooperative-sticky"]);

export function isCooperative(assignor: string | null): boolean {
  return assignor !== null && COOPERATIVE_ASSIGNORS.has(assignor);
}

/** The heartbeat error that makes a member with this assignor rejoin and fetch its offsets again. */
export function rejoinError(assignor: string | null): number {
  if (assignor !== null && (EAGER_ASSIGNORS.has(assignor) || COOPERATIVE_ASSIGNORS.has(assignor)))
    return ErrorCode.REBALANCE_IN_PROGRESS;
  return ErrorCode.ILLEGAL_GENERATION;
}

/**
 * A consumer-protocol assignment without the partitions to drop; undefined when it has none of them (or is
 * not a consumer-protocol assignment this proxy can read).
 */
export function withoutPartitions(assignment: Buffer, drop: readonly FencedPartitions[]): Buffer | undefined {
  if (assignment.length < 2) return undefined;
  let version: number;
  let decoded: ConsumerProtocolAssignment;
  try {
    const reader = new Reader(assignment);
    version = reader.int16();
    decoded = decodeConsumerProtocolAssignment(reader, version);
  } catch {
    return undefined;
  }
  let dropped = false;
  const assignedPartitions = decoded.assignedPartitions.map((entry) => {
    const fenced = drop.filter((d) => d.topic === entry.topic);
    if (fenced.length === 0) return entry;
    const partitions = entry.partitions.filter((p) => !fenced.some((d) => d.partitions.has(p)));
    if (partitions.length !== entry.partitions.length) dropped = true;
    return { ...entry, partitions };
  });
  if (!dropped) return undefined;
  const writer = new Writer(256);
  writer.int16(version);
  encodeConsumerProtocolAssignment(writer, version, { ...decoded, assignedPartitions });
  return Buffer.from(writer.finish());
}
