import { type ApiKey, ErrorCode, type RequestOf, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { type BrokerCall, companion, GROUP, ORDERS } from "./group-fixtures.ts";

/** A client's partition commit of virtual partition v, at offset v * 10. */
export function commitPartition(v: number) {
  return {
    partitionIndex: v,
    committedOffset: BigInt(v * 10),
    committedLeaderEpoch: -1,
    committedMetadata: null,
  };
}

/** What the broker reads of a partition committed at v (the offset stays, the index is the physical one). */
export function physicalPartition(p: number, v: number) {
  return {
    partitionIndex: p,
    committedOffset: BigInt(v * 10),
    committedLeaderEpoch: -1,
    committedMetadata: null,
  };
}

/** An OffsetCommit of `GROUP` by a member (generation 5, "m-1" by default) of these virtual partitions. */
export function commitRequest(
  topics: { name: string; topicId?: string; partitions: number[] }[],
  member: { generation: number; memberId: string; instance?: string | null } = {
    generation: 5,
    memberId: "m-1",
  },
): RequestOf<typeof ApiKey.OffsetCommit> {
  return {
    groupId: GROUP,
    generationIdOrMemberEpoch: member.generation,
    memberId: member.memberId,
    groupInstanceId: member.instance ?? null,
    retentionTimeMs: -1n,
    topics: topics.map((t) => ({
      name: t.name,
      topicId: t.topicId ?? ZERO_UUID,
      partitions: t.partitions.map(commitPartition),
    })),
  };
}

/** The broker accepts every partition of a commit, unless `errors` names it (`group/topic/partition`). */
export function acceptCommits(call: BrokerCall, errors: Record<string, number> = {}) {
  return {
    throttleTimeMs: 0,
    topics: call.request.topics.map(
      (t: { name: string; topicId: string; partitions: { partitionIndex: number }[] }) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: errors[`${call.request.groupId}/${t.name}/${p.partitionIndex}`] ?? ErrorCode.NONE,
        })),
      }),
    ),
  };
}

/** The real group's fields of `commitRequest`'s default member, as the broker reads them. */
export const realCommitFields = {
  groupId: GROUP,
  generationIdOrMemberEpoch: 5,
  memberId: "m-1",
  groupInstanceId: null,
  retentionTimeMs: -1n,
};

/** A companion group's simple commit as the broker reads it. */
export function companionCommit(g: number, partitions: [number, number][]) {
  return {
    groupId: companion(g),
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      { name: ORDERS, topicId: ZERO_UUID, partitions: partitions.map(([p, v]) => physicalPartition(p, v)) },
    ],
  };
}

export const companionCommits = (calls: BrokerCall[]) =>
  calls
    .filter((c) => c.api === "OffsetCommit" && c.nodeId !== undefined)
    .sort((a, b) => a.request.groupId.localeCompare(b.request.groupId));
