import type { Exchange } from "../../proxy/feature.ts";
import {
  GROUP_ID_NOT_FOUND,
  NONE,
  REBALANCE_IN_PROGRESS,
  STALE_MEMBER_EPOCH,
  UNKNOWN_MEMBER_ID,
} from "./group-error-codes.ts";

const HEARTBEAT = 12;
const HEARTBEAT_VERSION = 4;
const DESCRIBE_GROUPS = 15;
const DESCRIBE_GROUPS_VERSION = 5;
const CONSUMER_GROUP_DESCRIBE = 69;
const CONSUMER_GROUP_DESCRIBE_VERSION = 0;
const CLASSIC_MEMBER = 0;
const FIRST_CONSUMER_PROTOCOL_COMMIT_VERSION = 9;

export interface CommitIdentity {
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
}

/** A commit outside any generation (admin tools, assign()-only consumers): the broker takes it only from an empty group. */
export function isSimpleCommit(identity: CommitIdentity): boolean {
  return (
    identity.generationIdOrMemberEpoch < 0 && identity.memberId === "" && identity.groupInstanceId === null
  );
}

/**
 * Decides, without moving any offset, whether the broker would accept a commit from this member of the real
 * group. Needed when a commit carries only companion partitions: the broker answers an OffsetCommit whose
 * topic list is empty without looking at the group, so an empty commit proves nothing.
 * - simple commits: the group must have no members (DescribeGroups, or ConsumerGroupDescribe for a
 *   consumer-protocol group, which DescribeGroups reports as not found);
 * - classic members: Heartbeat validates member id, instance id and generation (REBALANCE_IN_PROGRESS comes
 *   only after those checks passed, while the group prepares a rebalance, when commits are still accepted);
 * - consumer-protocol members (KIP-848, OffsetCommit v9+): the member must exist with the same epoch
 *   (ConsumerGroupDescribe), stricter than the broker's per-partition assignment-epoch rule.
 * Returns the error code the commit gets (NONE when it may proceed).
 */
export async function validateMembership(
  exchange: Exchange,
  identity: CommitIdentity,
  commitVersion: number,
): Promise<number> {
  if (isSimpleCommit(identity)) return emptyGroupCheck(exchange, identity.groupId);
  const heartbeat = await exchange.send(HEARTBEAT, HEARTBEAT_VERSION, {
    groupId: identity.groupId,
    generationId: identity.generationIdOrMemberEpoch,
    memberId: identity.memberId,
    groupInstanceId: identity.groupInstanceId,
  });
  const heartbeatError = heartbeat.errorCode as number;
  if (heartbeatError === NONE || heartbeatError === REBALANCE_IN_PROGRESS) return NONE;
  // A consumer-protocol member is unknown to Heartbeat (it speaks ConsumerGroupHeartbeat): look it up instead.
  if (commitVersion < FIRST_CONSUMER_PROTOCOL_COMMIT_VERSION || heartbeatError !== UNKNOWN_MEMBER_ID) {
    return heartbeatError;
  }
  return consumerMemberCheck(exchange, identity, heartbeatError);
}

async function emptyGroupCheck(exchange: Exchange, groupId: string): Promise<number> {
  const response = await exchange.send(DESCRIBE_GROUPS, DESCRIBE_GROUPS_VERSION, {
    groups: [groupId],
    includeAuthorizedOperations: false,
  });
  const described = (response.groups as { errorCode: number; members: unknown[] }[])[0];
  if (described && described.errorCode !== NONE && described.errorCode !== GROUP_ID_NOT_FOUND) {
    return described.errorCode;
  }
  if (described && described.errorCode === NONE && described.members.length > 0) return UNKNOWN_MEMBER_ID;
  // No classic member: it may still be a consumer-protocol group, which DescribeGroups reports as not found
  // (v6+) or as a dead group without members (older versions).
  const consumerGroup = await describeConsumerGroup(exchange, groupId);
  return consumerGroup && consumerGroup.members.length > 0 ? UNKNOWN_MEMBER_ID : NONE;
}

interface ConsumerGroupView {
  errorCode: number;
  members: { memberId: string; memberEpoch: number; memberType: number }[];
}

/** The consumer-protocol group of that id, or undefined when there is none (or the broker cannot say). */
async function describeConsumerGroup(
  exchange: Exchange,
  groupId: string,
): Promise<ConsumerGroupView | undefined> {
  try {
    const response = await exchange.send(CONSUMER_GROUP_DESCRIBE, CONSUMER_GROUP_DESCRIBE_VERSION, {
      groupIds: [groupId],
      includeAuthorizedOperations: false,
    });
    const group = (response.groups as ConsumerGroupView[])[0];
    return group && group.errorCode === NONE ? group : undefined;
  } catch {
    return undefined;
  }
}

async function consumerMemberCheck(
  exchange: Exchange,
  identity: CommitIdentity,
  fallback: number,
): Promise<number> {
  const group = await describeConsumerGroup(exchange, identity.groupId);
  if (!group) return fallback;
  const member = group.members.find((m) => m.memberId === identity.memberId);
  if (!member) return UNKNOWN_MEMBER_ID;
  if (member.memberType === CLASSIC_MEMBER) return fallback;
  return member.memberEpoch === identity.generationIdOrMemberEpoch ? NONE : STALE_MEMBER_EPOCH;
}
