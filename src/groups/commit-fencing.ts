import type { RequestContext } from "../feature-api/feature.ts";
import { ApiKey, ErrorCode, firstVersion, type ResponseOf } from "../protocol/api.ts";
import type { AdminClient } from "../topology/admin-client.ts";

/** The Heartbeat must carry the member's static instance id, which the broker checks too. */
const HEARTBEAT_VERSIONS = { min: firstVersion("HeartbeatRequest", "groupInstanceId") };
/**
 * KIP-848 came with OffsetCommit v9 (the first a consumer-protocol member may send; same fields as v8) and
 * OffsetFetch v9, which added the member epoch: the same version boundary, told by that field.
 */
const FIRST_CONSUMER_PROTOCOL_COMMIT_VERSION = firstVersion("OffsetFetchRequest", "groups.memberEpoch");
/** ConsumerGroupDescribe's memberType of a member that speaks the classic protocol (absent before v1: -1). */
const CLASSIC_MEMBER = 0;

/** How the fencing checks reach the group's coordinator: the client's own connection, which the commit came on. */
export type GroupExchange = Pick<RequestContext, "send" | "connection">;

export interface CommitIdentity {
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
}

type DescribedClassicGroup = ResponseOf<typeof ApiKey.DescribeGroups>["groups"][number];
type DescribedConsumerGroup = ResponseOf<typeof ApiKey.ConsumerGroupDescribe>["groups"][number];

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
  exchange: GroupExchange,
  admin: AdminClient,
  identity: CommitIdentity,
  commitVersion: number,
): Promise<number> {
  if (isSimpleCommit(identity)) return emptyGroupCheck(exchange, admin, identity.groupId);
  const version = await admin.versionFor(exchange.connection.nodeId, ApiKey.Heartbeat, HEARTBEAT_VERSIONS);
  const heartbeat = await exchange.send(ApiKey.Heartbeat, version, {
    groupId: identity.groupId,
    generationId: identity.generationIdOrMemberEpoch,
    memberId: identity.memberId,
    groupInstanceId: identity.groupInstanceId,
  });
  const heartbeatError = heartbeat.errorCode;
  if (heartbeatError === ErrorCode.NONE || heartbeatError === ErrorCode.REBALANCE_IN_PROGRESS) {
    return ErrorCode.NONE;
  }
  // A consumer-protocol member is unknown to Heartbeat (it speaks ConsumerGroupHeartbeat): look it up instead.
  if (
    commitVersion < FIRST_CONSUMER_PROTOCOL_COMMIT_VERSION ||
    heartbeatError !== ErrorCode.UNKNOWN_MEMBER_ID
  ) {
    return heartbeatError;
  }
  return consumerMemberCheck(exchange, admin, identity, heartbeatError);
}

/**
 * The classic group of that id as DescribeGroups reports it, at the newest version: from v6 on, a group that
 * does not exist (or is a consumer-protocol group) comes back as GROUP_ID_NOT_FOUND; before, as a dead group
 * without members and no error. Callers handle both.
 */
export async function describeClassicGroup(
  exchange: GroupExchange,
  admin: AdminClient,
  groupId: string,
): Promise<DescribedClassicGroup | undefined> {
  const version = await admin.versionFor(exchange.connection.nodeId, ApiKey.DescribeGroups);
  const response = await exchange.send(ApiKey.DescribeGroups, version, {
    groups: [groupId],
    includeAuthorizedOperations: false,
  });
  return response.groups[0];
}

async function emptyGroupCheck(
  exchange: GroupExchange,
  admin: AdminClient,
  groupId: string,
): Promise<number> {
  const described = await describeClassicGroup(exchange, admin, groupId);
  if (
    described &&
    described.errorCode !== ErrorCode.NONE &&
    described.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND
  ) {
    return described.errorCode;
  }
  if (described && described.errorCode === ErrorCode.NONE && described.members.length > 0) {
    return ErrorCode.UNKNOWN_MEMBER_ID;
  }
  // No classic member: it may still be a consumer-protocol group, which DescribeGroups reports as not found
  // (v6+) or as a dead group without members (older versions).
  const consumerGroup = await describeConsumerGroup(exchange, admin, groupId);
  return consumerGroup && consumerGroup.members.length > 0 ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NONE;
}

/** The consumer-protocol group of that id, or undefined when there is none (or the broker cannot say). */
async function describeConsumerGroup(
  exchange: GroupExchange,
  admin: AdminClient,
  groupId: string,
): Promise<DescribedConsumerGroup | undefined> {
  try {
    const version = await admin.versionFor(exchange.connection.nodeId, ApiKey.ConsumerGroupDescribe);
    const response = await exchange.send(ApiKey.ConsumerGroupDescribe, version, {
      groupIds: [groupId],
      includeAuthorizedOperations: false,
    });
    const group = response.groups[0];
    return group && group.errorCode === ErrorCode.NONE ? group : undefined;
  } catch {
    return undefined;
  }
}

async function consumerMemberCheck(
  exchange: GroupExchange,
  admin: AdminClient,
  identity: CommitIdentity,
  fallback: number,
): Promise<number> {
  const group = await describeConsumerGroup(exchange, admin, identity.groupId);
  if (!group) return fallback;
  const member = group.members.find((m) => m.memberId === identity.memberId);
  if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
  if (member.memberType === CLASSIC_MEMBER) return fallback;
  return member.memberEpoch === identity.generationIdOrMemberEpoch
    ? ErrorCode.NONE
    : ErrorCode.STALE_MEMBER_EPOCH;
}
